/// The OCI runtime state a hook reads on stdin (a subset of runtime-spec's `State`).
public struct OCIState: Sendable, Equatable {
    public var ociVersion: String
    public var id: String
    public var status: String
    /// Host pid of the container's init; absent once the container has stopped (poststop).
    public var pid: Int32?
    public var bundle: String
    public var annotations: [String: String]

    /// State JSON larger than this is refused (a real one is a few KiB).
    public static let maxSize = 1 << 20

    public init(json bytes: [UInt8]) throws {
        let doc = try JSONDocument(parsing: bytes, what: "OCI state on stdin")
        let root = doc.root
        guard root.isObject else {
            throw MemguardError("OCI state on stdin is a JSON \(root.typeName), not an object")
        }
        func string(_ key: String, required: Bool) throws -> String? {
            guard let value = root[key] else {
                if required { throw MemguardError("OCI state on stdin has no \"\(key)\"") }
                return nil
            }
            guard let text = value.string else {
                throw MemguardError("OCI state on stdin: \"\(key)\" is a \(value.typeName), not a string")
            }
            return text
        }
        ociVersion = try string("ociVersion", required: true)!
        id = try string("id", required: true)!
        status = try string("status", required: true)!
        bundle = try string("bundle", required: false) ?? ""
        if let value = root["pid"] {
            guard let number = value.int64, number > 0, number <= Int64(Int32.max) else {
                throw MemguardError("OCI state on stdin: \"pid\" is not a positive process id")
            }
            pid = number == 0 ? nil : Int32(number)
        } else {
            pid = nil
        }
        annotations = try MonitorSettings.annotations(in: root, what: "OCI state on stdin")
    }
}
