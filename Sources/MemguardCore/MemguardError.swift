import Glibc

/// An errno value with its text.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public static var current: Errno { Errno(errno) }
    public var description: String { String(cString: strerror(rawValue)) }
}

/// Every failure memguard reports: what was being done, about what (container, file, map),
/// and the errno when the kernel said no.
public struct MemguardError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var errno: Errno?
    public var detail: String?

    public init(_ message: String, errno: Errno? = nil, detail: String? = nil) {
        self.message = message
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        var text = message
        if let errno { text += ": \(errno)" }
        if let detail, !detail.isEmpty { text += " (\(detail))" }
        return text
    }

    /// The same error, prefixed with the context it happened in ("container abc").
    public func within(_ context: String) -> MemguardError {
        var copy = self
        copy.message = "\(context): \(message)"
        return copy
    }
}

/// Runs a libc call that returns -1 and sets errno, retrying on EINTR.
@discardableResult
public func sys<T: BinaryInteger>(_ what: @autoclosure () -> String, _ call: () -> T) throws -> T {
    while true {
        let rc = call()
        if rc != -1 { return rc }
        let err = errno
        if err == EINTR { continue }
        throw MemguardError(what(), errno: Errno(err))
    }
}

/// Runs a libbpf/libseccomp call that returns a negative errno on failure.
@discardableResult
public func negErrno(_ what: @autoclosure () -> String, _ rc: Int32) throws -> Int32 {
    if rc < 0 { throw MemguardError(what(), errno: Errno(-rc)) }
    return rc
}
