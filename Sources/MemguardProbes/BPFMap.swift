import CLibBPF
import Glibc
import MemguardCore

/// An open BPF map fd (owned: closed on deinit) with the few operations memguard needs.
public final class BPFMap {
    public let fd: Int32
    public let name: String

    public init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    /// Opens a map pinned in bpffs.
    public convenience init(pinned path: String) throws {
        let fd = bpf_obj_get(path)
        if fd < 0 { throw MemguardError("opening pinned map \(path)", errno: .current) }
        self.init(fd: fd, name: path)
    }

    deinit { close(fd) }

    /// The kernel's value size for this map (0 if it cannot be read).
    public var valueSize: Int {
        var info = bpf_map_info()
        var len = UInt32(MemoryLayout<bpf_map_info>.size)
        return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? Int(info.value_size) : 0
    }

    public func update<K: BitwiseCopyable, V: BitwiseCopyable>(key: K, value: V, flags: Int32 = Int32(BPF_ANY)) throws {
        var k = key
        var v = value
        try negErrno("updating map \(name)", bpf_map_update_elem(fd, &k, &v, UInt64(flags)))
    }

    public func lookup<K: BitwiseCopyable, V: BitwiseCopyable>(key: K, as: V.Type) -> V? {
        var k = key
        let v = UnsafeMutablePointer<V>.allocate(capacity: 1)
        defer { v.deallocate() }
        return bpf_map_lookup_elem(fd, &k, v) == 0 ? v.pointee : nil
    }

    /// Deletes and returns the value in one step; nil if the key was absent.
    public func take<K: BitwiseCopyable, V: BitwiseCopyable>(key: K, as: V.Type) throws -> V? {
        var k = key
        let v = UnsafeMutablePointer<V>.allocate(capacity: 1)
        defer { v.deallocate() }
        let rc = bpf_map_lookup_and_delete_elem(fd, &k, v)
        if rc == -ENOENT { return nil }
        try negErrno("removing an entry from map \(name)", rc)
        return v.pointee
    }

    /// Deletes a key; true if it was there.
    @discardableResult
    public func delete<K: BitwiseCopyable>(key: K) throws -> Bool {
        var k = key
        let rc = bpf_map_delete_elem(fd, &k)
        if rc == -ENOENT { return false }
        try negErrno("removing an entry from map \(name)", rc)
        return true
    }

    public func keys<K: BitwiseCopyable & FixedWidthInteger>(_ type: K.Type) -> [K] {
        keys(type, zero: 0)
    }

    public func keys<K: BitwiseCopyable>(_ type: K.Type, zero: K) -> [K] {
        var out: [K] = []
        var key = zero
        var next = zero
        var rc = bpf_map_get_next_key(fd, nil, &next)
        while rc == 0 {
            out.append(next)
            key = next
            rc = bpf_map_get_next_key(fd, &key, &next)
        }
        return out
    }
}
