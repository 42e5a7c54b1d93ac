import Glibc

/// A bundle's config.json, read and rewritten without ever following a symlink: the bundle
/// comes from the container side, and a config.json pointing elsewhere must not let memguard
/// read or replace a file outside the bundle.
public struct BundleConfigFile {
    public let bundle: String
    /// The bundle directory, open: paths inside the bundle are resolved from it.
    public let directory: Int32
    let mode: mode_t
    let owner: (uid: uid_t, gid: gid_t)
    public let bytes: [UInt8]

    public var path: String { "\(bundle)/config.json" }

    public init(bundle: String) throws {
        self.bundle = bundle
        let dir = try sys("opening bundle \(bundle)") { open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        do {
            var st = stat()
            try sys("stat \(bundle)/config.json") { fstatat(dir, "config.json", &st, AT_SYMLINK_NOFOLLOW) }
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                let what = (st.st_mode & S_IFMT) == S_IFLNK ? "a symlink" : "not a regular file"
                throw MemguardError("\(bundle)/config.json is \(what); memguard-runc refuses to follow or replace it")
            }
            mode = st.st_mode & 0o7777
            owner = (st.st_uid, st.st_gid)
            let fd = try sys("opening \(bundle)/config.json") { openat(dir, "config.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
            defer { Glibc.close(fd) }
            bytes = try FileSystem.readAll(fd: fd, limit: OCIConfig.maxSize, what: "\(bundle)/config.json")
        } catch {
            Glibc.close(dir)
            throw error
        }
        directory = dir
    }

    public func release() { Glibc.close(directory) }

    /// Replaces config.json atomically (temporary file in the bundle + rename), keeping its
    /// mode and owner. On any failure the original is left as it was. No fsync: the bundle
    /// lives in the runtime's state directory and does not outlive a crash of the host.
    public func replace(with text: String) throws {
        let tmp = ".config.json.memguard-\(getpid())"
        let fd = try sys("creating \(bundle)/\(tmp)") {
            openat(directory, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        }
        do {
            defer { Glibc.close(fd) }
            try FileSystem.writeAll(fd: fd, Array(text.utf8), what: "\(bundle)/\(tmp)")
            try sys("setting the mode of \(bundle)/\(tmp)") { fchmod(fd, mode) }
            try sys("setting the owner of \(bundle)/\(tmp)") { fchown(fd, owner.uid, owner.gid) }
            try sys("replacing \(bundle)/config.json") { renameat(directory, tmp, directory, "config.json") }
        } catch {
            unlinkat(directory, tmp, 0)
            throw error
        }
    }
}
