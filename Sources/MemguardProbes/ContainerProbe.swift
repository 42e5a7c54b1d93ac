import CLibBPF
import CMemguardABI
import CShims
import Glibc
import MemguardCore

/// One container's part of the shared probe set: its entry in mg_scopes and its own ring
/// buffer in mg_rings, both keyed by the container's cgroup id.
public enum ContainerProbe {
    /// Size of each container's ring buffer: room for ~4000 events between two reads.
    public static let ringSize: UInt32 = 1 << 20

    /// Creates the container's ring buffer and registers the container. Returns the ring
    /// buffer fd (owned by the caller). The ring goes in first so no event finds no ring.
    public static func register(_ scope: ContainerScope, mode: MonitorSettings.Mode, probes: ProbeSet) throws -> Int32 {
        let ring = mg_ringbuf_create("mg_ring", ringSize)
        guard ring >= 0 else { throw MemguardError("creating the ring buffer", errno: Errno(-ring)) }
        do {
            try probes.rings.update(key: scope.cgroupID, value: ring, flags: Int32(BPF_NOEXIST))
            var entry = mg_scope()
            entry.pidns_inum = scope.pidnsInode
            entry.pidns_level = scope.pidnsLevel
            entry.mode = mode == .enforce ? UInt32(MG_MODE_ENFORCE.rawValue) : UInt32(MG_MODE_AUDIT.rawValue)
            do {
                try probes.scopes.update(key: scope.cgroupID, value: entry, flags: Int32(BPF_NOEXIST))
            } catch let error as MemguardError where error.errno == Errno(EEXIST) {
                throw MemguardError("cgroup \(scope.cgroupPath) (id \(scope.cgroupID)) is already registered by another container")
            }
        } catch {
            _ = try? probes.rings.delete(key: scope.cgroupID)
            close(ring)
            throw error
        }
        return ring
    }

    /// Stops the kernel from emitting for this cgroup and returns its final counters (nil if it
    /// was not registered). The ring entry stays until `releaseRing`, so in-flight events
    /// still land and can be drained.
    public static func unregister(cgroupID: UInt64, probes: ProbeSet) throws -> mg_scope? {
        try probes.scopes.take(key: cgroupID, as: mg_scope.self)
    }

    public static func releaseRing(cgroupID: UInt64, probes: ProbeSet) throws {
        try probes.rings.delete(key: cgroupID)
    }

    /// Current counters of a registered container.
    public static func counters(cgroupID: UInt64, probes: ProbeSet) -> mg_scope? {
        probes.scopes.lookup(key: cgroupID, as: mg_scope.self)
    }
}
