import Glibc

/// The path of the running executable (/proc/self/exe), to run itself or name itself in hooks.
public func selfExecutablePath() throws -> String {
    guard let path = FileSystem.readLink("/proc/self/exe") else { throw MemguardError("reading /proc/self/exe", errno: .current) }
    return path
}

/// Writes one line to stderr (where runc and the shim pick a hook's or runtime's errors up).
public func printError(_ message: String) {
    _ = try? FileSystem.writeAll(fd: 2, Array((message + "\n").utf8), what: "stderr")
}

/// Calls `body` with a NULL-terminated C array of the strings (argv/envp for posix_spawn).
public func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
