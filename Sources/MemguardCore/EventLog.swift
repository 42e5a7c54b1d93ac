import Glibc

/// A container's log: /var/log/memguard/<container>.log, JSON lines. Opened with O_APPEND so
/// the hook and the monitor (two processes) can both write whole lines without interleaving.
public final class EventLog {
    public let path: String
    public private(set) var fd: Int32
    private var pending: [UInt8] = []

    public init(paths: MemguardPaths, container: ContainerID) throws {
        try FileSystem.makeDirectories(paths.logDir)
        let path = paths.logFile(for: container)
        let fd = try sys("opening log \(path)") { open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o640) }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
            close(fd)
            throw MemguardError("log \(path) is not a regular file")
        }
        self.path = path
        self.fd = fd
    }

    /// In a forked child that got this log's file as `fd` (the original number was closed).
    public func adopt(descriptor: Int32) {
        fd = descriptor
    }

    deinit {
        try? flush()
        close(fd)
    }

    /// Writes one line now.
    public func write(_ line: JSONLine) throws {
        try FileSystem.writeAll(fd: fd, line.closedBytes + [0x0A], what: path)
    }

    /// Queues a line; `flush` writes all queued lines in as few writes as possible. The queue
    /// never holds more than `queueLimit` bytes: under a sustained burst a single ring read
    /// never ends, and an unbounded queue ran the monitor into its memory cap.
    public func queue(_ line: JSONLine) {
        pending.append(contentsOf: line.bytes)
        pending.append(contentsOf: [UInt8(ascii: "}"), 0x0A])
        if pending.count >= Self.queueLimit { try? flush() }
    }

    public static let queueLimit = 256 * 1024

    public var queuedBytes: Int { pending.count }

    public func flush() throws {
        guard !pending.isEmpty else { return }
        defer { pending.removeAll(keepingCapacity: true) }
        try FileSystem.writeAll(fd: fd, pending, what: path)
    }

    /// The common head of every record: time and container.
    public static func record(_ container: ContainerID, event: String, time: timespec = Clock.now()) -> JSONLine {
        var line = JSONLine()
        line.add("time", Clock.rfc3339(time))
        line.add("container", container.raw)
        line.add("event", event)
        return line
    }
}
