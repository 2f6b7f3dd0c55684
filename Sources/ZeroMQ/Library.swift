import CZeroMQ

/// Facts about the libzmq the process is linked against.
public enum ZeroMQLibrary {
    /// libzmq's version, e.g. `4.3.4`.
    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// Whether libzmq was built with a capability (`zmq_has`), e.g. `curve`, `ipc`, `draft`.
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }

    /// Whether CurveZMQ encryption and authentication are available (libzmq built with libsodium).
    public static var hasCurve: Bool { has("curve") }
}
