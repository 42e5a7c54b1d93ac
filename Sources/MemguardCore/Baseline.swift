/// A learned baseline: the executables (paths inside the container) that broke W^X in a
/// learn-mode run, and how. Given back to later runs (io.memguard.baseline=NAME) it is the
/// allowlist that would have kept that run clean. Stored as <data-dir>/baselines/NAME.json.
public struct Baseline: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var path: String
        public var kinds: [String]

        public init(path: String, kinds: [String]) {
            self.path = path
            self.kinds = kinds
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public static func path(_ name: String, paths: MemguardPaths) -> String { "\(paths.baselinesDir)/\(name).json" }

    public var json: String {
        var root = JSONLine()
        root.add("allow_wx", objects: entries.map { entry in
            var e = JSONLine()
            e.add("path", entry.path)
            e.add("kinds", strings: entry.kinds)
            return e
        })
        return root.rendered + "\n"
    }

    public init(bytes: [UInt8], what: String) throws {
        let doc = try JSONDocument(parsing: bytes, what: what)
        guard doc.root.isObject, let list = doc.root["allow_wx"], list.isArray else {
            throw MemguardError("\(what) has no \"allow_wx\" array")
        }
        entries = try list.elements.enumerated().map { index, item in
            guard let path = item["path"]?.string, path.hasPrefix("/"),
                  let kinds = item["kinds"], kinds.isArray else {
                throw MemguardError("\(what): allow_wx[\(index)] needs an absolute \"path\" and a \"kinds\" array")
            }
            return Entry(path: path, kinds: kinds.elements.compactMap(\.string))
        }
    }

    public static func load(_ name: String, paths: MemguardPaths) throws -> Baseline {
        let file = path(name, paths: paths)
        guard FileSystem.exists(file) else { throw MemguardError("baseline \"\(name)\" not found: no \(file) (learn it with io.memguard.mode=learn)") }
        return try Baseline(bytes: FileSystem.readTrusted(file, limit: 1 << 20), what: file)
    }
}
