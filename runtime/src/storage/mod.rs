//! Durable storage of a manager: the `Disk` seam (a real directory, or an in-memory disk that models crashes),
//! the Raft log as a segment WAL, snapshot files and small metadata files. Everything durable goes through a
//! `Disk`, so the simulator can crash a node's storage exactly; every reader of a stored file refuses damage it
//! cannot prove to be a torn tail (`files::FileError::Corrupt`), so a node never starts on lost committed state.

pub mod disk;
pub mod files;
#[cfg(not(madsim))]
pub mod fs_disk;
pub mod mem_disk;
pub mod meta_file;
pub mod snapshot_file;
pub mod wal;
