import Glibc
import MemguardCore

/// memguard-runc's fast path. Nearly every runtime call has nothing to do with memguard: state,
/// start, kill, delete, and create, run or restore of a bundle whose config.json never mentions
/// io.memguard. Those exec the real runtime at once, reading argv and config.json as C strings
/// and raw bytes: the full wrapper's Swift start-up work (arrays and sets of strings, generic
/// metadata) would cost more than the whole pass-through. Anything else returns, and the full
/// wrapper decides: opted-in bundles, a host policy to read, every error to report.
public enum PassThrough {
    /// Execs the real runtime when this call cannot involve memguard; returns otherwise (or if
    /// the exec fails, for the full wrapper to report). `argv[0]` becomes the runtime's path
    /// for the exec; `argv[1...]` are the runtime's arguments.
    public static func execIfUninvolved(argc: Int32, argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) {
        guard let runtime = defaultRuntime() else { return }
        let arguments = RuncArguments(argc: Int(argc) - 1, argv: argv + 1)
        if arguments.startsFromBundle {
            // runc takes a missing or empty --bundle as the current directory.
            let bundle = arguments.bundle.flatMap { $0[0] == 0 ? nil : $0 }
            guard configCannotOptIn(bundle: bundle) else { return free(runtime) }
        }
        let name = argv[0]
        argv[0] = runtime
        execv(runtime, argv)
        // Failed: the full wrapper reads argv as it was, tries again and reports the errno.
        argv[0] = name
        free(runtime)
    }

    /// The runtime to hand over to, chosen as the full wrapper would (`RuntimeWrapper.realRuntime`):
    /// MEMGUARD_RUNTIME, else "runtime" in a valid memguard.json, else the first runc on the
    /// usual paths; nil when that cannot be settled here (an invalid policy: the full wrapper
    /// reports it). The policy is read with the same checks, only not through the whole CLI
    /// start-up (MEMGUARD_CONFIG_DIR is the one setting that applies). A twin of realRuntime in
    /// C strings on purpose: calling realRuntime here measured +0.2 ms per call (its arrays
    /// and closures instantiate generic metadata), a third of the pass-through's whole cost.
    static func defaultRuntime() -> UnsafeMutablePointer<CChar>? {
        var chosen: UnsafeMutablePointer<CChar>?
        if let configured = getenv("MEMGUARD_RUNTIME"), configured[0] != 0 {
            chosen = strdup(configured)
        } else {
            var paths = MemguardPaths()
            if let dir = getenv("MEMGUARD_CONFIG_DIR"), dir[0] != 0 { paths.configDir = String(cString: dir) }
            guard let host = try? HostConfig.load(paths: paths) else { return nil }
            if let runtime = host.runtime {
                chosen = strdup(runtime)
            } else {
                for candidate in RuntimeWrapper.runcCandidates where access(candidate, X_OK) == 0 {
                    chosen = strdup(candidate)
                    break
                }
            }
        }
        guard let runtime = chosen, access(runtime, X_OK) == 0, !isMemguard(runtime) else {
            free(chosen)
            return nil
        }
        return runtime
    }

    static func isMemguard(_ runtime: UnsafePointer<CChar>) -> Bool {
        guard let resolved = realpath(runtime, nil) else { return true }
        defer { free(resolved) }
        let own = UnsafeMutablePointer<CChar>.allocate(capacity: Int(PATH_MAX) + 1)
        defer { own.deallocate() }
        let length = readlink("/proc/self/exe", own, Int(PATH_MAX))
        guard length > 0 else { return true }
        own[length] = 0
        return strcmp(resolved, own) == 0
    }

    /// True when the bundle's config.json is a regular file that cannot opt in (`mayOptIn`).
    /// Unreadable, odd or huge files return false: the full wrapper reports them.
    static func configCannotOptIn(bundle: UnsafePointer<CChar>?) -> Bool {
        let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC
        let dir = bundle.map { open($0, flags) } ?? open(".", flags)
        guard dir >= 0 else { return false }
        defer { close(dir) }
        var st = stat()
        guard fstatat(dir, "config.json", &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFREG,
              st.st_size < OCIConfig.maxSize else { return false }
        let fd = openat(dir, "config.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // One byte more than stat said: a file that grew since is left to the full wrapper.
        let capacity = Int(st.st_size) + 1
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var length = 0
        while length < capacity {
            let n = read(fd, buffer + length, capacity - length)
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { return false }
            if n == 0 { break }
            length += n
        }
        guard length < capacity else { return false }
        return !mayOptIn(UnsafeRawBufferPointer(start: buffer, count: length))
    }

    /// Whether config.json bytes could name an io.memguard key at all. A JSON key can spell its
    /// letters only literally or as \u escapes, so bytes with neither "io.memguard" nor "\u"
    /// opt in to nothing, whatever else they hold (the full wrapper, too, leaves them alone).
    public static func mayOptIn(_ bytes: UnsafeRawBufferPointer) -> Bool {
        contains(bytes, "io.memguard") || contains(bytes, "\\u")
    }

    static func contains(_ buffer: UnsafeRawBufferPointer, _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount, length = buffer.count
        guard length >= n, let bytes = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        let first = needle.utf8Start[0]
        var i = 0
        while i <= length - n {
            if bytes[i] == first, memcmp(bytes + i, needle.utf8Start, n) == 0 { return true }
            i += 1
        }
        return false
    }
}
