//! Image references get Docker's implicit `:latest`, and only when they name neither a tag nor a digest.

use swarm_core::image::normalized_image;

#[test]
fn images_get_docker_implicit_latest() {
    let cases = [
        ("nginx", "nginx:latest"),
        ("busybox", "busybox:latest"),
        ("nginx:1.25", "nginx:1.25"),
        ("library/nginx", "library/nginx:latest"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("localhost:5000/app:2", "localhost:5000/app:2"),
        ("app@sha256:0123456789abcdef0123456789abcdef", "app@sha256:0123456789abcdef0123456789abcdef"),
    ];
    for (image, expected) in cases {
        assert_eq!(normalized_image(image), expected, "{image}");
    }
}
