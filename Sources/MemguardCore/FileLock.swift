import Glibc

/// An exclusive flock on a file, held until `unlock` or deinit. Serialises loading and
/// unloading of the shared probe set between concurrent hooks and monitors.
public final class FileLock {
    private var fd: Int32

    public init(path: String, timeoutMilliseconds: Int = 10_000) throws {
        fd = try sys("opening lock \(path)") { open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        let start = Clock.nanoseconds(CLOCK_MONOTONIC)
        // Short waits first: the holder is usually a hook or monitor done in well under 1 ms,
        // and this wait lies on the container start path.
        var pause: UInt32 = 50
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            guard err == EWOULDBLOCK || err == EINTR else {
                close(fd)
                throw MemguardError("locking \(path)", errno: Errno(err))
            }
            if Clock.millisecondsSince(start) > Double(timeoutMilliseconds) {
                close(fd)
                throw MemguardError("timed out after \(timeoutMilliseconds) ms waiting for lock \(path)")
            }
            usleep(pause)
            pause = min(pause * 2, 1000)
        }
    }

    public func unlock() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}
