//! The one door from async code to blocking threads: disk work too slow for an async thread (a large snapshot's
//! write and fsync) runs on tokio's blocking pool in production, and inline in the simulator, whose disk is memory
//! and whose runtime has no other threads. Invariant: simulated code never reaches a real thread through here
//! (the `spawn_blocking` call is compiled out under `--cfg madsim`).

/// Runs `work` off the async threads (production) or right here (simulator); an error only if the blocking task
/// panicked or was cancelled.
pub async fn off_async_threads<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, std::io::Error> {
    #[cfg(madsim)]
    {
        Ok(work())
    }
    #[cfg(not(madsim))]
    {
        tokio::task::spawn_blocking(work).await.map_err(std::io::Error::other)
    }
}
