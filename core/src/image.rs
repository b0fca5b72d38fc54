//! Image references as Docker reads them. Invariant: `normalized_image` is Docker's own default — a reference
//! that names neither a tag nor a digest means `:latest` — so the Docker executor pulls, and the simulated engine
//! finds, exactly the image Docker would.

/// `image` with Docker's implicit `:latest` when it names neither a tag nor a digest (`busybox` →
/// `busybox:latest`; pulling a bare name would pull every tag). A `:` before the last `/` is a registry's port,
/// not a tag (`localhost:5000/app` → `localhost:5000/app:latest`).
pub fn normalized_image(image: &str) -> String {
    let last_component = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last_component.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}
