import Glibc

/// Small file helpers on raw fds (no Foundation: the hook runs on the container start path).
public enum FileSystem {
    /// Reads an fd to EOF, refusing more than `limit` bytes.
    public static func readAll(fd: Int32, limit: Int, what: String) throws -> [UInt8] {
        // One growing buffer read into directly: no zero-filled chunk, no copy per read (this
        // runs on the container start path).
        var capacity = min(4096, limit + 1)
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var count = 0
        while true {
            if count == capacity {
                guard capacity <= limit else { throw MemguardError("\(what) is larger than \(limit) bytes") }
                capacity = min(capacity * 2, limit + 1)
                let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
                grown.update(from: buffer, count: count)
                buffer.deallocate()
                buffer = grown
            }
            let n = try sys("reading \(what)") { read(fd, buffer + count, capacity - count) }
            if n == 0 { break }
            count += n
        }
        return Array(UnsafeBufferPointer(start: buffer, count: count))
    }

    /// Reads a regular file (a FIFO or device is refused rather than waited on).
    public static func readFile(_ path: String, limit: Int = 1 << 20) throws -> [UInt8] {
        let fd = try sys("opening \(path)") { open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        defer { close(fd) }
        var st = stat()
        try sys("stat \(path)") { fstat(fd, &st) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw MemguardError("\(path) is not a regular file") }
        return try readAll(fd: fd, limit: limit, what: path)
    }

    public static func readText(_ path: String, limit: Int = 1 << 20) throws -> String {
        String(decoding: try readFile(path, limit: limit), as: UTF8.self)
    }

    public static func writeAll(fd: Int32, _ bytes: [UInt8], what: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try sys("writing \(what)") {
                bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            }
            offset += n
        }
    }

    /// Writes a file by temporary file + rename, so readers never see half of it.
    public static func writeAtomically(_ path: String, _ text: String, mode: mode_t = 0o640) throws {
        let tmp = "\(path).tmp.\(getpid())"
        let fd = try sys("creating \(tmp)") { open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode) }
        do {
            try writeAll(fd: fd, Array(text.utf8), what: tmp)
            fchmod(fd, mode)
            close(fd)
            try sys("renaming \(tmp) to \(path)") { rename(tmp, path) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
    }

    /// mkdir -p with `mode` for the directories it creates; refuses a symlink on the way.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o750) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            var st = stat()
            if lstat(current, &st) == 0 {
                if (st.st_mode & S_IFMT) != S_IFDIR {
                    throw MemguardError("\(current) is not a directory (while creating \(path))")
                }
                continue
            }
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw MemguardError("creating directory \(current)", errno: .current)
            }
        }
    }

    /// Reads a file that decides policy (host policy, seccomp profiles, baselines): neither it
    /// nor its directory may be writable by everyone, or anyone could rewrite memguard's rules.
    public static func readTrusted(_ path: String, limit: Int = 4 << 20) throws -> [UInt8] {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        try refuseWorldWritable(dir.isEmpty ? "/" : dir, "directory")
        try refuseWorldWritable(path, "file")
        return try readFile(path, limit: limit)
    }

    private static func refuseWorldWritable(_ target: String, _ what: String) throws {
        var st = stat()
        if stat(target, &st) == 0 && st.st_mode & 0o002 != 0 {
            throw MemguardError("refusing \(target): the \(what) is writable by everyone (chmod o-w \(target))")
        }
    }

    /// The target of a symlink, or nil.
    public static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Removes a file; a missing file is not an error.
    public static func removeFile(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT {
            throw MemguardError("removing \(path)", errno: .current)
        }
    }

    public static func inode(of path: String) throws -> (ino: UInt64, dev: UInt64) {
        var st = stat()
        try sys("stat \(path)") { stat(path, &st) }
        return (UInt64(st.st_ino), UInt64(st.st_dev))
    }

    /// Names in a directory, without "." and "..". A missing directory gives no names.
    public static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
