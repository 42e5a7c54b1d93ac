import CShims
import Glibc
import MemguardCore

/// bpffs, where the shared probe set is pinned. It may be unmounted on a fresh host: at the
/// standard place memguard mounts it; anywhere else a missing bpffs is an error.
public enum BPFFilesystem {
    static let magic: Int = 0xCAFE_4A11
    public static let standardMount = "/sys/fs/bpf"

    /// True if `path` is a mount point (its device differs from its parent's).
    public static func isMount(_ path: String) -> Bool {
        var a = stat(), b = stat()
        return stat(path, &a) == 0 && stat(path + "/..", &b) == 0 && a.st_dev != b.st_dev
    }

    public static func isBPFFS(_ path: String) -> Bool {
        mg_fs_magic(path) == magic
    }

    /// Makes sure the parent of `pinDir` is a bpffs, mounting /sys/fs/bpf if that is where it
    /// should be.
    public static func prepare(pinDir: String) throws {
        let parent = directoryOf(pinDir)
        if isBPFFS(parent) { return }
        guard parent == standardMount else {
            throw MemguardError("pin directory \(pinDir) is not on a bpf filesystem: its parent \(parent) must be a bpffs mount (choose a pin directory under /sys/fs/bpf)")
        }
        if mg_mount("bpf", standardMount, "bpf", "mode=0700") != 0 {
            throw MemguardError("bpffs is not mounted at \(standardMount) and mounting it failed", errno: .current)
        }
    }

    static func directoryOf(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
