//! Docker's keyword settings as `Copy` enums: mount type, restart condition, failure action, update order, endpoint
//! mode, port protocol and publish mode. Each serializes as, displays as and parses from exactly the lowercase
//! keyword Docker's CLI and JSON use, and lists its keywords in `ALL`; anything else is an `UnknownKeyword` naming
//! the setting and what it accepts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A keyword that is none of the setting's: `invalid restart condition "sometimes": expected one of none, ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("invalid {what} \"{value}\": expected one of {expected}")]
pub struct UnknownKeyword {
    /// The setting, e.g. "restart condition".
    pub what: String,
    pub value: String,
    /// The keywords it accepts, comma-separated.
    pub expected: String,
}

/// A `Copy` enum serialized as one of a fixed set of lowercase keywords, parseable with `FromStr`.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$variant_meta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The keyword, as Docker's CLI and JSON spell it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownKeyword;

            fn from_str(value: &str) -> Result<Self, UnknownKeyword> {
                $name::ALL.iter().copied().find(|v| v.as_str() == value).ok_or_else(|| UnknownKeyword {
                    what: $what.to_string(),
                    value: value.to_string(),
                    expected: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                })
            }
        }
    };
}

keyword_enum! {
    /// Docker's `Mount.Type`.
    MountType, "mount type" {
        #[default]
        Volume => "volume",
        Bind => "bind",
        Tmpfs => "tmpfs",
    }
}

keyword_enum! {
    /// Docker's `RestartPolicy.Condition`; `any` by default.
    RestartCondition, "restart condition" {
        None => "none",
        OnFailure => "on-failure",
        #[default]
        Any => "any",
    }
}

keyword_enum! {
    /// Docker's `UpdateConfig.FailureAction`; `pause` by default.
    FailureAction, "failure action" {
        #[default]
        Pause => "pause",
        Continue => "continue",
        Rollback => "rollback",
    }
}

keyword_enum! {
    /// Docker's `UpdateConfig.Order`; `stop-first` by default.
    UpdateOrder, "update order" {
        #[default]
        StopFirst => "stop-first",
        StartFirst => "start-first",
    }
}

keyword_enum! {
    /// Docker's `EndpointSpec.Mode`; `vip` by default.
    ResolutionMode, "endpoint mode" {
        #[default]
        Vip => "vip",
        Dnsrr => "dnsrr",
    }
}

keyword_enum! {
    /// Docker's `PortConfig.Protocol`; `tcp` by default.
    PortProtocol, "protocol" {
        #[default]
        Tcp => "tcp",
        Udp => "udp",
        Sctp => "sctp",
    }
}

keyword_enum! {
    /// Docker's `PortConfig.PublishMode`; `ingress` (the routing mesh) by default.
    PublishMode, "publish mode" {
        #[default]
        Ingress => "ingress",
        Host => "host",
    }
}
