import Glibc

/// The path of the running executable (/proc/self/exe), to run itself or name itself in hooks.
public func selfExecutablePath() throws -> String {
    guard let path = FileSystem.readLink("/proc/self/exe") else { throw MemguardError("reading /proc/self/exe", errno: .current) }
    return path
}

/// Calls `body` with a NULL-terminated C array of the strings (argv/envp for posix_spawn).
public func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
