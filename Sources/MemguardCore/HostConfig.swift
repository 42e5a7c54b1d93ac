import Glibc

/// The host's own settings: <config-dir>/memguard.json. Written by the host's administrator,
/// not by containers; still, an unknown key or a bad value is an error that names the key,
/// and a missing file means the built-in defaults.
public struct HostConfig: Sendable, Equatable {
    /// The real OCI runtime memguard-runc hands over to (default: runc from the usual paths).
    public var runtime: String?

    public static let fileName = "memguard.json"
    static let known: Set<String> = ["runtime"]

    public init(runtime: String? = nil) { self.runtime = runtime }

    public static func load(paths: MemguardPaths) throws -> HostConfig {
        let path = "\(paths.configDir)/\(fileName)"
        guard FileSystem.exists(path) else { return HostConfig() }
        return try HostConfig(bytes: FileSystem.readFile(path, limit: 1 << 20), path: path)
    }

    public init(bytes: [UInt8], path: String) throws {
        let doc = try JSONDocument(parsing: bytes, what: path)
        guard doc.root.isObject else { throw MemguardError("\(path) is a JSON \(doc.root.typeName), not an object") }
        for (key, _) in doc.root.members where !Self.known.contains(key) {
            throw MemguardError("\(path): unknown key \"\(key)\" (known: \(Self.known.sorted().joined(separator: ", ")))")
        }
        if let value = doc.root["runtime"] {
            guard let text = value.string, text.hasPrefix("/") else {
                throw MemguardError("\(path): \"runtime\" must be an absolute path string")
            }
            runtime = text
        }
    }
}
