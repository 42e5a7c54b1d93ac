import CJSONC
import Glibc

/// A bundle's config.json, edited in place with json-c so every field memguard does not
/// touch is kept as it was. Used to add memguard's hooks and annotations.
public final class OCIConfig {
    private let tree: JSONTree
    private var root: OpaquePointer { tree.object }

    /// runc reads config.json of any size; memguard reads up to this much.
    public static let maxSize = 64 << 20

    public init(bytes: [UInt8], what: String) throws {
        let doc = try JSONDocument(parsing: bytes, what: what, lenient: true)
        guard doc.root.isObject else { throw MemguardError("\(what) is a JSON \(doc.root.typeName), not an object") }
        tree = JSONTree(retaining: doc.root.pointer)
    }

    /// The config's annotations (only string values; ours must be strings).
    public func annotations(what: String) throws -> [String: String] {
        try MonitorSettings.annotations(in: tree.root, what: what)
    }

    /// linux.seccomp, if the config has one.
    public var seccomp: JSONValue? { tree.root["linux"]?["seccomp"] }

    /// Replaces linux.seccomp with the given JSON object text.
    public func setSeccomp(json: String, what: String) throws {
        let doc = try JSONDocument(parsing: Array(json.utf8), what: what)
        guard doc.root.isObject else { throw MemguardError("\(what) is not a JSON object") }
        try requireObject(["linux"])
        json_object_object_add(object(["linux"]), "seccomp", json_object_get(doc.root.pointer))
    }

    /// Fails if the value at `path` exists and is not an object: memguard adds to a config, it
    /// never "repairs" one (runc would have refused it).
    public func requireObject(_ path: [String]) throws {
        var node: JSONValue? = tree.root
        for key in path {
            node = node?[key]
            if let value = node, !value.isObject {
                throw MemguardError("config.json: \"\(path.joined(separator: "."))\" is a \(value.typeName), not an object")
            }
        }
    }

    /// True if hooks.<stage> already has a hook with this path and args.
    public var json: String {
        String(cString: json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)) + "\n"
    }

    /// The object at `path` (created if absent).
    private func object(_ path: [String]) -> OpaquePointer {
        var node = root
        for key in path {
            var child: OpaquePointer?
            if json_object_object_get_ex(node, key, &child) == 0 || json_object_is_type(child, json_type_object) == 0 {
                child = json_object_new_object()
                json_object_object_add(node, key, child)
            }
            node = child!
        }
        return node
    }

    public func set(_ path: [String], string value: String) {
        json_object_object_add(object(Array(path.dropLast())), path.last!, json_object_new_string_len(value, Int32(value.utf8.count)))
    }

    public func set(_ path: [String], int value: Int64) {
        json_object_object_add(object(Array(path.dropLast())), path.last!, json_object_new_int64(value))
    }

    public func set(_ path: [String], bool value: Bool) {
        json_object_object_add(object(Array(path.dropLast())), path.last!, json_object_new_boolean(value ? 1 : 0))
    }

    public func set(_ path: [String], strings values: [String]) {
        json_object_object_add(object(Array(path.dropLast())), path.last!, Self.array(values))
    }

    /// Appends a hook to hooks.<stage>.
    /// Removes the hooks of `stage` with this path and args (an earlier memguard-runc's).
    public func removeHooks(stage: String, path: String, args: [String]) {
        guard let list = tree.root["hooks"]?[stage], list.isArray else { return }
        let hooks = object(["hooks"])
        var array: OpaquePointer?
        guard json_object_object_get_ex(hooks, stage, &array) != 0 else { return }
        for (index, hook) in list.elements.enumerated().reversed()
        where hook["path"]?.string == path && (hook["args"]?.elements.map { $0.string ?? "" } ?? []) == args {
            json_object_array_del_idx(array, index, 1)
        }
    }

    public func addHook(stage: String, path: String, args: [String], env: [String], timeout: Int32) throws {
        try requireObject(["hooks"])
        if let existing = tree.root["hooks"]?[stage], !existing.isArray {
            throw MemguardError("config.json: \"hooks.\(stage)\" is a \(existing.typeName), not an array")
        }
        let hooks = object(["hooks"])
        var list: OpaquePointer?
        if json_object_object_get_ex(hooks, stage, &list) == 0 || json_object_is_type(list, json_type_array) == 0 {
            list = json_object_new_array()
            json_object_object_add(hooks, stage, list)
        }
        let hook = json_object_new_object()
        json_object_object_add(hook, "path", json_object_new_string(path))
        json_object_object_add(hook, "args", Self.array(args))
        json_object_object_add(hook, "env", Self.array(env))
        json_object_object_add(hook, "timeout", json_object_new_int(timeout))
        json_object_array_add(list, hook)
    }

    private static func array(_ values: [String]) -> OpaquePointer {
        let array = json_object_new_array()!
        for value in values { json_object_array_add(array, json_object_new_string_len(value, Int32(value.utf8.count))) }
        return array
    }
}
