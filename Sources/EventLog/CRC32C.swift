import CCRC32C

/// CRC32C (Castagnoli) over bytes, with the CPU's instruction where present.
public enum CRC32C {
    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        ganglion_crc32c(0, bytes.baseAddress, bytes.count)
    }

    /// Whether the hardware instruction is in use.
    public static var isHardwareAccelerated: Bool { ganglion_crc32c_is_hardware() != 0 }
}
