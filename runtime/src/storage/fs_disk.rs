//! `FsDisk`: the `Disk` on one real directory (compiled out of the simulator, whose filesystem is not simulated).
//! Invariant: a byte is durable once `sync` or `write_atomic` returned — `sync` is `fdatasync` plus one directory
//! fsync after a file was created, `write_atomic` is write-temp, fsync, rename, fsync directory — and a crash in
//! the middle of `write_atomic` leaves the old content plus a temporary file that the next `open` removes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::disk::{check_name, not_found, Disk};

/// Suffix of the temporary file `write_atomic` writes before renaming; such names are reserved, hidden by
/// `list` and removed by `open` (they are leftovers of a crash in the middle of `write_atomic`).
const TMP_SUFFIX: &str = ".tmp";

/// A `Disk` on one real directory. `sync` is `fdatasync`, plus one directory fsync after a file was created
/// so that its name is durable too; `write_atomic` is write-temp, fsync, rename, fsync directory.
pub struct FsDisk {
    dir: PathBuf,
    inner: Mutex<FsInner>,
}

#[derive(Default)]
struct FsInner {
    /// Open append handles, one per file written since open.
    handles: BTreeMap<String, File>,
    /// Files created by `append` whose directory entry has not been fsynced yet.
    created_unsynced: BTreeSet<String>,
}

impl FsDisk {
    /// Opens (creating it and its parents when missing) the directory `dir`, and removes leftover temporary
    /// files of an interrupted `write_atomic`.
    pub fn open(dir: PathBuf) -> io::Result<FsDisk> {
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if let Some(name) = entry.file_name().to_str() {
                if name.ends_with(TMP_SUFFIX) && entry.file_type()?.is_file() {
                    fs::remove_file(entry.path())?;
                }
            }
        }
        sync_dir(&dir)?;
        Ok(FsDisk { dir, inner: Mutex::new(FsInner::default()) })
    }

    /// The directory this disk lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, FsInner> {
        // A panic while holding the lock leaves only handles behind: the state is still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        check_name(name)?;
        if name.ends_with(TMP_SUFFIX) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("disk file name {name:?} uses the reserved suffix {TMP_SUFFIX}"),
            ));
        }
        Ok(self.dir.join(name))
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The open append handle of an existing file, opening it when needed (`NotFound` when it does not exist).
fn existing_handle<'a>(inner: &'a mut FsInner, path: &Path, name: &str) -> io::Result<&'a mut File> {
    if !inner.handles.contains_key(name) {
        let file = OpenOptions::new().append(true).open(path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                not_found(name)
            } else {
                e
            }
        })?;
        inner.handles.insert(name.to_string(), file);
    }
    Ok(inner.handles.get_mut(name).expect("handle inserted above"))
}

impl Disk for FsDisk {
    fn location(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        let path = self.path(name)?;
        match fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(name)?;
        let mut inner = self.lock();
        if !inner.handles.contains_key(name) {
            let file = match OpenOptions::new().append(true).create_new(true).open(&path) {
                Ok(file) => {
                    inner.created_unsynced.insert(name.to_string());
                    file
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => OpenOptions::new().append(true).open(&path)?,
                Err(e) => return Err(e),
            };
            inner.handles.insert(name.to_string(), file);
        }
        inner.handles.get_mut(name).expect("handle inserted above").write_all(bytes)
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        let path = self.path(name)?;
        let mut inner = self.lock();
        existing_handle(&mut inner, &path, name)?.sync_data()?;
        if inner.created_unsynced.contains(name) {
            sync_dir(&self.dir)?;
            inner.created_unsynced.remove(name);
        }
        Ok(())
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let path = self.path(name)?;
        let mut inner = self.lock();
        let file = existing_handle(&mut inner, &path, name)?;
        let current = file.metadata()?.len();
        if len > current {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot truncate {name:?} to {len} bytes: it has only {current}"),
            ));
        }
        file.set_len(len)
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(name)?;
        let tmp = self.dir.join(format!("{name}{TMP_SUFFIX}"));
        let mut inner = self.lock();
        // An append handle would point at the replaced inode.
        inner.handles.remove(name);
        inner.created_unsynced.remove(name);
        {
            let mut file = File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
        }
        fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let path = self.path(name)?;
        let mut inner = self.lock();
        inner.handles.remove(name);
        inner.created_unsynced.remove(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        sync_dir(&self.dir)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            if let Some(name) = entry.file_name().to_str() {
                if !name.ends_with(TMP_SUFFIX) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }
}
