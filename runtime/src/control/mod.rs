//! The daemon's control API: what the CLI talks to over the local unix socket (HTTP/1.1, JSON bodies).
//! `view` is the read model every listing is rendered from.

pub mod api;
pub mod view;
