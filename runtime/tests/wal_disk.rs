//! The `Disk` implementations: MemDisk's crash model (what survives a crash) and FsDisk on a real directory.

#![allow(clippy::type_complexity)] // the data tables read better inline

use std::sync::Arc;

use swarm_runtime::storage::disk::Disk;
use swarm_runtime::storage::mem_disk::MemDisk;

/// One step against a MemDisk.
#[derive(Debug, Clone, Copy)]
enum Op {
    Append(&'static [u8]),
    Sync,
    Truncate(u64),
    WriteAtomic(&'static [u8]),
    Remove,
}

#[test]
fn mem_disk_crash_keeps_synced_bytes_plus_the_chosen_torn_prefix() {
    use Op::*;
    // (ops on file "f", bytes the crash callback keeps, content after the crash (None = file gone))
    let cases: &[(&[Op], usize, Option<&[u8]>)] = &[
        (&[Append(b"abc")], 0, None),
        (&[Append(b"abc")], 2, Some(b"ab")),
        (&[Append(b"abc")], 99, Some(b"abc")),
        (&[Append(b"abc"), Sync], 0, Some(b"abc")),
        (&[Append(b"abc"), Sync, Append(b"def")], 0, Some(b"abc")),
        (&[Append(b"abc"), Sync, Append(b"def")], 1, Some(b"abcd")),
        (&[Append(b"abc"), Sync, Append(b"def")], 3, Some(b"abcdef")),
        (&[Append(b""), Sync], 0, Some(b"")),
        (&[Append(b"abc"), Sync, Truncate(1)], 0, Some(b"abc")),
        (&[Append(b"abc"), Sync, Truncate(1), Append(b"xyz")], 4, Some(b"abc")),
        (&[Append(b"abc"), Sync, Truncate(1), Sync], 0, Some(b"a")),
        (&[Append(b"abc"), Sync, Truncate(1), Sync, Append(b"x")], 1, Some(b"ax")),
        (&[WriteAtomic(b"new")], 0, Some(b"new")),
        (&[Append(b"abc"), WriteAtomic(b"new")], 0, Some(b"new")),
        (&[WriteAtomic(b"new"), Append(b"er")], 1, Some(b"newe")),
        (&[Append(b"abc"), Sync, Remove], 0, None),
        (&[Append(b"abc"), Sync, Remove, Append(b"z")], 0, None),
    ];
    for (ops, kept, expected) in cases {
        let disk = MemDisk::new();
        for op in *ops {
            match op {
                Append(bytes) => disk.append("f", bytes).unwrap(),
                Sync => disk.sync("f").unwrap(),
                Truncate(len) => disk.truncate("f", *len).unwrap(),
                WriteAtomic(bytes) => disk.write_atomic("f", bytes).unwrap(),
                Remove => disk.remove("f").unwrap(),
            }
        }
        let handle = disk.clone();
        disk.crash(|_| *kept);
        let after = handle.read("f").unwrap();
        assert_eq!(after.as_deref(), *expected, "ops {ops:?}, crash keeps {kept}");
        // What survived is durable: a second crash changes nothing.
        handle.crash(|unsynced| unsynced);
        assert_eq!(handle.read("f").unwrap().as_deref(), *expected, "ops {ops:?}, second crash");
    }
}

#[test]
fn mem_disk_crash_asks_per_file_in_name_order_with_the_unsynced_length() {
    let disk = MemDisk::new();
    disk.append("b", b"12345").unwrap();
    disk.append("a", b"xy").unwrap();
    disk.sync("a").unwrap();
    disk.append("a", b"zzz").unwrap();
    disk.append("c", b"q").unwrap();
    disk.sync("c").unwrap();
    let mut asked = Vec::new();
    disk.crash(|unsynced| {
        asked.push(unsynced);
        1
    });
    assert_eq!(asked, vec![3, 5]);
    assert_eq!(disk.list().unwrap(), vec!["a", "b", "c"]);
    assert_eq!(disk.read("a").unwrap().unwrap(), b"xyz");
    assert_eq!(disk.read("b").unwrap().unwrap(), b"1");
    assert_eq!(disk.read("c").unwrap().unwrap(), b"q");
}

#[test]
fn mem_disk_helpers_and_errors() {
    let disk = MemDisk::new();
    disk.append("f", b"abcd").unwrap();
    disk.sync("f").unwrap();
    disk.append("f", b"ef").unwrap();
    assert_eq!(disk.unsynced_len("f"), 2);
    assert_eq!(disk.synced_bytes("f").unwrap(), b"abcd");
    disk.corrupt("f", 1, 0xff);
    disk.corrupt("f", 5, 0x01);
    assert_eq!(disk.snapshot_bytes("f").unwrap(), [b'a', b'b' ^ 0xff, b'c', b'd', b'e', b'f' ^ 1]);
    assert_eq!(disk.synced_bytes("f").unwrap(), [b'a', b'b' ^ 0xff, b'c', b'd']);
    assert_eq!(disk.snapshot_bytes("missing"), None);
    assert_eq!(disk.read("missing").unwrap(), None);
    assert_eq!(disk.sync("missing").unwrap_err().kind(), std::io::ErrorKind::NotFound);
    assert_eq!(disk.truncate("missing", 0).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    assert_eq!(disk.truncate("f", 99).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    disk.remove("missing").unwrap();
    for bad in ["", ".", "..", "a/b", "a\0b"] {
        assert_eq!(disk.append(bad, b"x").unwrap_err().kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
        assert_eq!(disk.read(bad).unwrap_err().kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
    }
    // Usable as the trait object the storage takes.
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    assert_eq!(shared.list().unwrap(), vec!["f"]);
}

#[cfg(not(madsim))]
mod fs {
    use std::io::ErrorKind;
    use std::path::PathBuf;

    use swarm_runtime::storage::disk::Disk;
    use swarm_runtime::storage::fs_disk::FsDisk;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(test: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("swarm-wal-disk-{}-{test}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn fs_disk_does_what_the_trait_says() {
        let tmp = TempDir::new("trait");
        let disk = FsDisk::open(tmp.0.join("nested")).unwrap();
        assert_eq!(disk.list().unwrap(), Vec::<String>::new());
        assert_eq!(disk.read("a").unwrap(), None);
        disk.append("a", b"hello").unwrap();
        disk.append("a", b" world").unwrap();
        assert_eq!(disk.read("a").unwrap().unwrap(), b"hello world");
        disk.sync("a").unwrap();
        disk.truncate("a", 5).unwrap();
        disk.sync("a").unwrap();
        disk.append("a", b"!").unwrap();
        assert_eq!(disk.read("a").unwrap().unwrap(), b"hello!");
        assert_eq!(disk.truncate("a", 100).unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(disk.sync("missing").unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(disk.truncate("missing", 0).unwrap_err().kind(), ErrorKind::NotFound);

        disk.write_atomic("b", b"v1").unwrap();
        disk.write_atomic("b", b"v2").unwrap();
        assert_eq!(disk.read("b").unwrap().unwrap(), b"v2");
        // write_atomic over a file that has an append handle replaces it; later appends go to the new file.
        disk.write_atomic("a", b"fresh").unwrap();
        disk.append("a", b"+").unwrap();
        disk.sync("a").unwrap();
        assert_eq!(disk.read("a").unwrap().unwrap(), b"fresh+");
        assert_eq!(disk.list().unwrap(), vec!["a", "b"]);

        disk.remove("b").unwrap();
        disk.remove("b").unwrap();
        assert_eq!(disk.read("b").unwrap(), None);
        for bad in ["", "..", "x/y", "c.tmp"] {
            assert_eq!(disk.append(bad, b"x").unwrap_err().kind(), ErrorKind::InvalidInput, "{bad:?}");
        }

        // Reopening sees the same files and clears leftovers of an interrupted write_atomic.
        drop(disk);
        std::fs::write(tmp.0.join("nested").join("b.tmp"), b"half").unwrap();
        let disk = FsDisk::open(tmp.0.join("nested")).unwrap();
        assert_eq!(disk.list().unwrap(), vec!["a"]);
        assert!(!tmp.0.join("nested").join("b.tmp").exists());
        assert_eq!(disk.read("a").unwrap().unwrap(), b"fresh+");
        disk.append("a", b"more").unwrap();
        disk.sync("a").unwrap();
        assert_eq!(disk.read("a").unwrap().unwrap(), b"fresh+more");
    }
}
