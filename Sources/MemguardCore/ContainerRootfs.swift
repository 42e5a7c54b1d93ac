import CShims
import Glibc

/// A container's root filesystem as the host sees it, from its bundle (root.path in
/// config.json), for finding executables by their identity. At createRuntime the container has
/// not pivoted into its root yet, so /proc/<pid>/root would still be the host's.
public final class ContainerRootfs {
    public let path: String
    private let fd: Int32

    public init(bundle: String) throws {
        let file = try BundleConfigFile(bundle: bundle)
        defer { file.release() }
        let doc = try JSONDocument(parsing: file.bytes, what: file.path)
        guard let root = doc.root["root"]?["path"]?.string, !root.isEmpty else {
            throw MemguardError("\(file.path) has no root.path")
        }
        path = root.hasPrefix("/") ? root : "\(bundle)/\(root)"
        fd = root.hasPrefix("/") ? open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : openat(file.directory, root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw MemguardError("opening the container's root \(path)", errno: .current) }
    }

    deinit { close(fd) }

    /// Inode and device (kernel encoding) of `path` inside the container, symlinks resolved
    /// within the container's root; nil if there is no such file.
    public func identity(of path: String) throws -> (ino: UInt64, dev: UInt32)? {
        let file = mg_open_in_root(fd, path, O_RDONLY)
        if file < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw MemguardError("resolving \(path) in the container's root \(self.path)", errno: .current)
        }
        defer { close(file) }
        var st = stat()
        try sys("stat \(path) in \(self.path)") { fstat(file, &st) }
        return (UInt64(st.st_ino), Self.kernelDevice(UInt64(st.st_dev)))
    }

    /// glibc's dev_t encoding to the kernel's (major << 20 | minor), as BPF reads s_dev.
    public static func kernelDevice(_ dev: UInt64) -> UInt32 {
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        return UInt32(truncatingIfNeeded: major << 20 | minor)
    }
}
