//! Image references, checked against the grammar of Docker's `reference` package, as SwarmKit's control API checks
//! a container spec's image.

use super::error::SpecError;

/// An image reference, checked against the grammar of Docker's `reference` package:
/// `[domain[:port]/]path[:tag][@algorithm:digest]`, path components lowercase `[a-z0-9]` joined by `.`, `_`, `__`
/// or runs of `-`. (Docker's 255-byte name bound is not applied; `TEXT_LEN_MAX` bounds the field.)
pub fn validate_image(image: &str) -> Result<(), SpecError> {
    if image.is_empty() {
        return Err(SpecError::ImageRequired);
    }
    if image_reference_is_valid(image) {
        Ok(())
    } else {
        Err(SpecError::InvalidImage { image: image.to_string() })
    }
}

fn image_reference_is_valid(image: &str) -> bool {
    let (name_and_tag, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let Some((algorithm, hex)) = digest.split_once(':') else { return false };
        let algorithm_ok = !algorithm.is_empty()
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'.' | b'_' | b'-'));
        let hex_ok =
            hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
        if !algorithm_ok || !hex_ok {
            return false;
        }
    }
    // A tag is a `:` after the last `/`.
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_and_tag[last_slash..].find(':') {
        Some(i) => (&name_and_tag[..last_slash + i], Some(&name_and_tag[last_slash + i + 1..])),
        None => (name_and_tag, None),
    };
    if let Some(tag) = tag {
        let mut bytes = tag.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
            return false;
        }
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 {
        let first = components[0];
        if first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase()) {
            if !domain_is_valid(first) {
                return false;
            }
            components.remove(0);
        }
    }
    components.iter().all(|component| path_component_is_valid(component))
}

fn domain_is_valid(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    host_ok && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn path_component_is_valid(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}
