import CJSONC
import Glibc

/// A json-c tree, freed when the last value pointing into it is gone.
final class JSONTree {
    let object: OpaquePointer

    /// Takes a reference of its own on `object`.
    init(retaining object: OpaquePointer) {
        self.object = json_object_get(object)
    }

    deinit { json_object_put(object) }

    var root: JSONValue { JSONValue(object, tree: self) }
}

/// A parsed JSON document (json-c). Every JSONValue taken from it keeps the tree alive, so a
/// value can outlive the document that produced it.
public final class JSONDocument {
    public let root: JSONValue

    /// Parses `bytes` completely (trailing garbage is an error), with a nesting limit so a
    /// hostile document cannot exhaust the stack.
    /// `lenient` is for files runc reads too: Go's decoder accepts invalid UTF-8 and nesting up
    /// to 10000, so memguard must not refuse (or misread) what runc would accept.
    public init(parsing bytes: [UInt8], what: String, maxDepth: Int32 = 64, lenient: Bool = false) throws {
        guard let tokener = json_tokener_new_ex(lenient ? 10_000 : maxDepth) else {
            throw MemguardError("\(what): out of memory creating the JSON parser")
        }
        defer { json_tokener_free(tokener) }
        json_tokener_set_flags(tokener, Int32(lenient ? JSON_TOKENER_STRICT : JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8))
        let parsed = bytes.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            buffer.withMemoryRebound(to: CChar.self) { json_tokener_parse_ex(tokener, $0.baseAddress, Int32($0.count)) }
        }
        let status = json_tokener_get_error(tokener)
        if bytes.isEmpty {
            throw MemguardError("\(what) is empty (expected a JSON object)")
        }
        guard let parsed, status == json_tokener_success else {
            json_object_put(parsed)
            let reason = status == json_tokener_continue ? "unexpected end of input" : String(cString: json_tokener_error_desc(status))
            throw MemguardError("\(what) is not valid JSON: \(reason) at byte \(json_tokener_get_parse_end(tokener))")
        }
        let end = Int(json_tokener_get_parse_end(tokener))
        if bytes[end...].contains(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) {
            json_object_put(parsed)
            throw MemguardError("\(what) is not valid JSON: unexpected data after the value at byte \(end)")
        }
        root = JSONTree(retaining: parsed).root
        json_object_put(parsed)
    }
}

/// A node of a JSON tree; it keeps the whole tree alive.
public struct JSONValue {
    let pointer: OpaquePointer
    let tree: JSONTree

    init(_ pointer: OpaquePointer, tree: JSONTree) {
        self.pointer = pointer
        self.tree = tree
    }

    public var isObject: Bool { json_object_is_type(pointer, json_type_object) != 0 }

    public var typeName: String { String(cString: json_type_to_name(json_object_get_type(pointer))) }

    public subscript(key: String) -> JSONValue? {
        var found: OpaquePointer?
        guard isObject, json_object_object_get_ex(pointer, key, &found) != 0, let found else { return nil }
        if json_object_is_type(found, json_type_null) != 0 { return nil }
        return JSONValue(found, tree: tree)
    }

    public var string: String? {
        guard json_object_is_type(pointer, json_type_string) != 0, let chars = json_object_get_string(pointer) else { return nil }
        let length = Int(json_object_get_string_len(pointer))
        return chars.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// An integer, if the value is an integer in range (not a double or a string).
    public var int64: Int64? {
        guard json_object_is_type(pointer, json_type_int) != 0 else { return nil }
        errno = 0
        let value = json_object_get_int64(pointer)
        return errno == 0 ? value : nil
    }

    /// A non-negative integer up to 2^64-1 (json-c keeps large values as uint64).
    public var uint64: UInt64? {
        guard json_object_is_type(pointer, json_type_int) != 0 else { return nil }
        if json_object_get_int64(pointer) < 0 { return nil }
        errno = 0
        let value = json_object_get_uint64(pointer)
        return errno == 0 ? value : nil
    }

    /// A number (integer or not).
    public var double: Double? {
        guard json_object_is_type(pointer, json_type_double) != 0 || json_object_is_type(pointer, json_type_int) != 0 else { return nil }
        return json_object_get_double(pointer)
    }

    public var bool: Bool? {
        guard json_object_is_type(pointer, json_type_boolean) != 0 else { return nil }
        return json_object_get_boolean(pointer) != 0
    }

    /// The elements of an array (empty for anything else).
    public var elements: [JSONValue] {
        guard json_object_is_type(pointer, json_type_array) != 0 else { return [] }
        return (0..<json_object_array_length(pointer)).compactMap { json_object_array_get_idx(pointer, $0).map { JSONValue($0, tree: tree) } }
    }

    public var isArray: Bool { json_object_is_type(pointer, json_type_array) != 0 }

    /// The value as compact JSON text.
    public var jsonText: String { String(cString: json_object_to_json_string_ext(pointer, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) }

    /// The members of an object, in document order.
    public var members: [(key: String, value: JSONValue)] {
        guard isObject else { return [] }
        var out: [(String, JSONValue)] = []
        var it = json_object_iter_begin(pointer)
        var end = json_object_iter_end(pointer)
        while json_object_iter_equal(&it, &end) == 0 {
            let key = String(cString: json_object_iter_peek_name(&it))
            if let value = json_object_iter_peek_value(&it) {
                out.append((key, JSONValue(value, tree: tree)))
            }
            json_object_iter_next(&it)
        }
        return out
    }

}
