import MemguardCore

/// A seccomp profile in the OCI runtime-spec format (`linux.seccomp`), also read from Docker's
/// format (`archMap`). Parsing checks shape and names every unknown field; `SeccompCompiler`
/// then checks it against libseccomp.
public struct SeccompProfile: Equatable, Sendable {
    public struct Arg: Equatable, Sendable {
        public var index: UInt32
        public var value: UInt64
        public var valueTwo: UInt64
        public var op: String
    }

    public struct Rule: Equatable, Sendable {
        public var names: [String]
        public var action: String
        public var errnoRet: UInt32?
        public var args: [Arg]
    }

    public var defaultAction: String
    public var defaultErrnoRet: UInt32?
    public var architectures: [String]
    public var flags: [String]
    public var syscalls: [Rule]

    public init(defaultAction: String, defaultErrnoRet: UInt32? = nil, architectures: [String], flags: [String] = [], syscalls: [Rule]) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.flags = flags
        self.syscalls = syscalls
    }

    public init(bytes: [UInt8], what: String) throws {
        let doc = try JSONDocument(parsing: bytes, what: what)
        try self.init(json: doc.root, what: what)
    }

    init(json root: JSONValue, what: String) throws {
        let reader = Reader(what: what)
        try reader.only(root, ["defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags", "syscalls",
                               "listenerPath", "listenerMetadata"], at: "")
        if root["listenerPath"] != nil { throw MemguardError("\(what): listenerPath (SCMP_ACT_NOTIFY) is not supported") }
        defaultAction = try reader.string(root["defaultAction"], at: "defaultAction")
        defaultErrnoRet = try root["defaultErrnoRet"].map { try reader.uint32($0, at: "defaultErrnoRet") }
        var arches = try root["architectures"].map { try reader.strings($0, at: "architectures") } ?? []
        for (i, entry) in (root["archMap"]?.elements ?? []).enumerated() {
            try reader.only(entry, ["architecture", "subArchitectures"], at: "archMap[\(i)]")
            arches.append(try reader.string(entry["architecture"], at: "archMap[\(i)].architecture"))
            arches += try entry["subArchitectures"].map { try reader.strings($0, at: "archMap[\(i)].subArchitectures") } ?? []
        }
        architectures = arches.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        flags = try root["flags"].map { try reader.strings($0, at: "flags") } ?? []
        syscalls = []
        for (i, entry) in (root["syscalls"]?.elements ?? []).enumerated() {
            let at = "syscalls[\(i)]"
            try reader.only(entry, ["names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes"], at: at)
            for key in ["includes", "excludes"] {
                if let cond = entry[key], !cond.members.isEmpty {
                    throw MemguardError("\(what): \(at).\(key): conditional rules (Docker's includes/excludes) are not supported; write the rules out")
                }
            }
            var names = try entry["names"].map { try reader.strings($0, at: "\(at).names") } ?? []
            if let legacy = entry["name"] { names.append(try reader.string(legacy, at: "\(at).name")) }
            guard !names.isEmpty else { throw MemguardError("\(what): \(at) names no syscall") }
            var args: [Arg] = []
            for (j, arg) in (entry["args"]?.elements ?? []).enumerated() {
                let argAt = "\(at).args[\(j)]"
                try reader.only(arg, ["index", "value", "valueTwo", "op"], at: argAt)
                args.append(Arg(index: try reader.uint32(arg["index"], at: "\(argAt).index"),
                                value: try reader.uint64(arg["value"], at: "\(argAt).value"),
                                valueTwo: try arg["valueTwo"].map { try reader.uint64($0, at: "\(argAt).valueTwo") } ?? 0,
                                op: try reader.string(arg["op"], at: "\(argAt).op")))
            }
            syscalls.append(Rule(names: names, action: try reader.string(entry["action"], at: "\(at).action"),
                                 errnoRet: try entry["errnoRet"].map { try reader.uint32($0, at: "\(at).errnoRet") },
                                 args: args))
        }
    }

    /// The profile as OCI `linux.seccomp` JSON.
    public var json: String {
        var root = JSONLine()
        root.add("defaultAction", defaultAction)
        if let defaultErrnoRet { root.add("defaultErrnoRet", defaultErrnoRet) }
        root.add("architectures", strings: architectures)
        if !flags.isEmpty { root.add("flags", strings: flags) }
        root.add("syscalls", objects: syscalls.map { rule in
            var r = JSONLine()
            r.add("names", strings: rule.names)
            r.add("action", rule.action)
            if let errnoRet = rule.errnoRet { r.add("errnoRet", errnoRet) }
            if !rule.args.isEmpty {
                r.add("args", objects: rule.args.map { arg in
                    var a = JSONLine()
                    a.add("index", arg.index)
                    a.add("value", arg.value)
                    a.add("valueTwo", arg.valueTwo)
                    a.add("op", arg.op)
                    return a
                })
            }
            return r
        })
        return root.rendered
    }
}

/// Typed reads that name the field that is wrong.
private struct Reader {
    let what: String

    func only(_ value: JSONValue, _ keys: Set<String>, at: String) throws {
        guard value.isObject else { throw MemguardError("\(what): \(at.isEmpty ? "the profile" : at) is a \(value.typeName), not an object") }
        for (key, _) in value.members where !keys.contains(key) {
            throw MemguardError("\(what): unknown field \"\(at.isEmpty ? key : at + "." + key)\"")
        }
    }

    func string(_ value: JSONValue?, at: String) throws -> String {
        guard let value else { throw MemguardError("\(what): \(at) is missing") }
        guard let text = value.string else { throw MemguardError("\(what): \(at) is a \(value.typeName), not a string") }
        return text
    }

    func strings(_ value: JSONValue, at: String) throws -> [String] {
        guard value.isArray else { throw MemguardError("\(what): \(at) is a \(value.typeName), not an array") }
        return try value.elements.enumerated().map { try string($0.element, at: "\(at)[\($0.offset)]") }
    }

    func uint64(_ value: JSONValue?, at: String) throws -> UInt64 {
        guard let value else { throw MemguardError("\(what): \(at) is missing") }
        guard let number = value.uint64 else { throw MemguardError("\(what): \(at) is not a non-negative integer") }
        return number
    }

    func uint32(_ value: JSONValue?, at: String) throws -> UInt32 {
        let number = try uint64(value, at: at)
        guard number <= UInt64(UInt32.max) else { throw MemguardError("\(what): \(at) is out of range") }
        return UInt32(number)
    }
}
