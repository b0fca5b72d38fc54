//! Where the Docker executor puts tasks' secret and config files: a tmpfs of the agent's own, mounted (on first
//! use) at `/run/swarm/<node-id>/task-files` (outside the data directory) with mode 0700, one directory per task, one file per reference, each bind-mounted
//! read-only into the container at its target path. The invariant: a value is written only into that tmpfs (never to
//! a disk: if the tmpfs cannot be mounted, the task is refused instead), with the owner and mode its reference asks
//! for, and a task's directory goes when its container does (`remove_task`), or at the next `sweep` after a crash.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::worker::executor::ExecError;
use crate::worker::executor::TaskFiles;

/// The tmpfs's size bound: room for many tasks' files (each value is at most 500 KiB).
const TMPFS_OPTIONS: &str = "mode=0700,size=64m";

/// One bind mount of a task file: the file in the tmpfs and its path in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMount {
    pub host_path: PathBuf,
    pub container_path: String,
}

#[derive(Debug, Clone)]
pub struct TaskFilesDir {
    root: PathBuf,
    /// Serialises mounting, writing and unmounting the tmpfs (a write never lands on the directory beneath a tmpfs
    /// unmounted meanwhile); shared by the executor's clones.
    mount_lock: Arc<Mutex<()>>,
    /// Tasks being prepared (files written, container not created yet), with how many prepares of each are under
    /// way: `sweep` leaves their files alone.
    preparing: Arc<Mutex<BTreeMap<String, usize>>>,
}

/// A task being prepared, until dropped.
pub struct Preparing {
    preparing: Arc<Mutex<BTreeMap<String, usize>>>,
    task_id: String,
}

impl Drop for Preparing {
    fn drop(&mut self) {
        let mut preparing = self.preparing.lock().expect("preparing tasks mutex");
        if let Some(count) = preparing.get_mut(&self.task_id) {
            *count -= 1;
            if *count == 0 {
                preparing.remove(&self.task_id);
            }
        }
    }
}

impl TaskFilesDir {
    pub fn new(root: PathBuf) -> TaskFilesDir {
        TaskFilesDir { root, mount_lock: Arc::default(), preparing: Arc::default() }
    }

    /// Marks task `task_id` as being prepared until the guard is dropped.
    pub fn preparing(&self, task_id: &str) -> Preparing {
        *self.preparing.lock().expect("preparing tasks mutex").entry(task_id.to_string()).or_default() += 1;
        Preparing { preparing: self.preparing.clone(), task_id: task_id.to_string() }
    }

    /// Writes `files` of task `task_id` into the tmpfs (replacing what the task had there) and returns their bind
    /// mounts.
    pub fn write(&self, task_id: &str, files: &TaskFiles) -> Result<Vec<FileMount>, ExecError> {
        let _guard = self.mount_lock.lock().expect("task files mount lock");
        self.ensure_mounted()?;
        let failed = |what: &str, path: &Path, error: std::io::Error| {
            ExecError::Failed(format!("{what} {}: {error}", path.display()))
        };
        let dir = self.task_dir(task_id)?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| failed("clearing", &dir, e))?;
        }
        std::fs::create_dir(&dir).map_err(|e| failed("creating", &dir, e))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).map_err(|e| failed("chmod", &dir, e))?;
        let mut mounts = Vec::with_capacity(files.0.len());
        for (index, file) in files.0.iter().enumerate() {
            let host_path = dir.join(format!("{}-{index}", file.kind.as_str()));
            let mut handle = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&host_path)
                .map_err(|e| failed("creating", &host_path, e))?;
            handle.write_all(&file.data).map_err(|e| failed("writing", &host_path, e))?;
            drop(handle);
            std::os::unix::fs::chown(&host_path, Some(file.uid), Some(file.gid))
                .map_err(|e| failed("chown", &host_path, e))?;
            std::fs::set_permissions(&host_path, std::fs::Permissions::from_mode(file.mode))
                .map_err(|e| failed("chmod", &host_path, e))?;
            mounts.push(FileMount { host_path, container_path: file.path.clone() });
        }
        Ok(mounts)
    }

    /// Removes task `task_id`'s files (nothing if it has none).
    pub fn remove_task(&self, task_id: &str) {
        let Ok(dir) = self.task_dir(task_id) else { return };
        if let Err(error) = std::fs::remove_dir_all(&dir) {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %dir.display(), %error, "cannot remove a task's secret and config files");
            }
        }
    }

    /// The task ids that have files here.
    pub fn task_ids(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.root) else { return Vec::new() };
        entries.filter_map(|entry| entry.ok()?.file_name().into_string().ok()).collect()
    }

    /// Removes the files of every task not in `keep` (tasks whose containers are gone) and not being prepared.
    pub fn sweep(&self, keep: &BTreeSet<String>) {
        let preparing: BTreeSet<String> =
            self.preparing.lock().expect("preparing tasks mutex").keys().cloned().collect();
        for task_id in self.task_ids() {
            if !keep.contains(&task_id) && !preparing.contains(&task_id) {
                self.remove_task(&task_id);
            }
        }
    }

    /// Unmounts the tmpfs (lazily: containers that bind-mounted its files keep them) so no value outlives the
    /// agent on this host; nothing if it is not mounted.
    pub fn unmount(&self) {
        let _guard = self.mount_lock.lock().expect("task files mount lock");
        if !is_tmpfs_mount(&self.root) {
            return;
        }
        let Ok(path) = CString::new(self.root.as_os_str().as_bytes()) else { return };
        // SAFETY: umount2(2) with a NUL-terminated path we own; it touches no memory of ours.
        let rc = unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        if rc != 0 {
            let error = std::io::Error::last_os_error();
            tracing::warn!(path = %self.root.display(), %error, "cannot unmount the tmpfs of secret and config files");
        }
    }

    /// Unmounts the tmpfs and removes its directory (and the node's directory above it, once empty): the node left
    /// the swarm.
    pub fn remove(&self) {
        self.unmount();
        let _ = std::fs::remove_dir(&self.root);
        if let Some(parent) = self.root.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }

    fn task_dir(&self, task_id: &str) -> Result<PathBuf, ExecError> {
        let plain = !task_id.is_empty() && task_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plain {
            return Err(ExecError::Rejected(format!("task id {task_id:?} cannot name a directory")));
        }
        Ok(self.root.join(task_id))
    }

    /// Mounts the tmpfs at the root unless one is there already (left by an earlier run of this daemon). The caller
    /// holds `mount_lock`.
    fn ensure_mounted(&self) -> Result<(), ExecError> {
        if is_tmpfs_mount(&self.root) {
            return Ok(());
        }
        let refuse = |reason: String| {
            ExecError::Rejected(format!(
                "cannot give the task its secrets and configs: mounting a tmpfs at {}: {reason}",
                self.root.display()
            ))
        };
        std::fs::create_dir_all(&self.root).map_err(|e| refuse(e.to_string()))?;
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| refuse(e.to_string()))?;
        let target = CString::new(self.root.as_os_str().as_bytes()).map_err(|e| refuse(e.to_string()))?;
        let source = CString::new("swarm-task-files").expect("no NUL");
        let fstype = CString::new("tmpfs").expect("no NUL");
        let options = CString::new(TMPFS_OPTIONS).expect("no NUL");
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        // SAFETY: mount(2) with NUL-terminated strings we own for the duration of the call.
        let rc =
            unsafe { libc::mount(source.as_ptr(), target.as_ptr(), fstype.as_ptr(), flags, options.as_ptr().cast()) };
        if rc != 0 {
            return Err(refuse(std::io::Error::last_os_error().to_string()));
        }
        Ok(())
    }
}

/// Whether a tmpfs is mounted exactly at `path` (per `/proc/self/mountinfo`).
fn is_tmpfs_mount(path: &Path) -> bool {
    let Ok(canonical) = std::fs::canonicalize(path) else { return false };
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    mountinfo.lines().any(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let mount_point = fields.get(4).map(|field| unescape_mountinfo(field));
        let fstype = fields.iter().position(|field| *field == "-").and_then(|dash| fields.get(dash + 1));
        mount_point.as_deref() == Some(canonical.as_os_str().to_string_lossy().as_ref()) && fstype == Some(&"tmpfs")
    })
}

/// Mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape_mountinfo(field: &str) -> String {
    field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}
