import ArgumentParser
import GanglionWire
import ZeroMQ

/// The version of this build of Ganglion.
enum GanglionVersion {
    /// Semantic version of the release.
    static let current = "0.1.0"
}

/// `ganglion version`: what this build is and what the transport underneath can do.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Show Ganglion's version and the libzmq it runs on (with CURVE support)."
    )

    @Flag(help: "Exit with status 1 when libzmq lacks CURVE (for setup scripts).")
    var requireCurve = false

    func run() throws {
        let curve = ZeroMQLibrary.hasCurve
        print("ganglion \(GanglionVersion.current)")
        print("libzmq \(ZeroMQLibrary.version) (curve: \(curve ? "yes" : "no"))")
        print("event envelope \(EventEnvelope.protoMessageName)")
        if requireCurve && !curve {
            throw ValidationError("libzmq was built without CURVE; install Debian's libzmq5 (built with libsodium)")
        }
    }
}
