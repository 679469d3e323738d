/**
 * Whether a file's reads may run on the media worker's own thread: on Linux, on a file system
 * whose reads of cached pages never wait for a network or a user-space daemon. NFS, SMB, FUSE
 * (sshfs, virtiofs), 9p (WSL, some container file sharing) and anything unknown answer false, and
 * their reads stay on libuv's threadpool.
 */
import { statfs } from 'node:fs/promises';

/** statfs(2) f_type of local disk and memory file systems (linux/magic.h). */
const LOCAL_FILE_SYSTEMS = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0xf2f52010, // f2fs
  0x2fc12fc1, // zfs
  0xca451a4e, // bcachefs
  0x01021994, // tmpfs
  0x858458f6, // ramfs
  0x794c7630, // overlayfs (containers' root)
  0x73717368, // squashfs
  0xe0f5e1e2, // erofs
]);

export async function readsOnThisThread(path: string): Promise<boolean> {
  if (process.platform !== 'linux') return false;
  try {
    // f_type is a signed long: on 32-bit systems the larger magics come back negative.
    return LOCAL_FILE_SYSTEMS.has((await statfs(path)).type >>> 0);
  } catch {
    return false;
  }
}
