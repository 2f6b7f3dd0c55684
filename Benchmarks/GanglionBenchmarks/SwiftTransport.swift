import CZeroMQBaseline
import Dispatch
import Foundation
import Synchronization
import ZeroMQ

/// The Swift binding driven exactly as `CZeroMQBaseline.c` drives libzmq, step for step.
enum SwiftTransport {
    /// The high-water mark of both ends of the PUB→SUB runs (as in the C baseline).
    static let hwm = Int32(GANGLION_BENCH_HWM)

    /// How the subscriber takes each message.
    enum ReceiveStyle: String {
        /// `Socket.receive { bytes, more in }`: bytes lent from a reused message, no allocation.
        case borrowed
        /// `Socket.receiveFrame()`: an owned `Frame` per message, ready to keep or forward.
        case frame
    }

    /// State shared by the publisher thread and the subscriber.
    private final class Handshake: Sendable {
        let endpoint = Mutex<String?>(nil)
        let failure = Mutex<(any Error)?>(nil)
        let drained = Atomic<Bool>(false)
        let finished = DispatchSemaphore(value: 0)

        /// Waits for the other thread to bind; throws what it failed with.
        func awaitEndpoint() throws -> String {
            while true {
                if let failure = failure.withLock({ $0 }) { throw failure }
                if let endpoint = endpoint.withLock({ $0 }) { return endpoint }
                usleep(100)
            }
        }
    }

    /// PUB→SUB over tcp loopback between two contexts, from an XPUB with no-drop (lossless, blocking
    /// at the HWM) to a SUB; messages per second at the subscriber.
    static func pubSubThroughput(size: Int, count: Int, style: ReceiveStyle) throws -> Double {
        let handshake = Handshake()
        let publisher = Thread {
            defer { handshake.finished.signal() }
            do {
                let context = try Context(defaultLinger: .seconds(1))
                let pub = try Socket(.xpub, context: context)
                try pub.set([.sendHighWaterMark(hwm), .xpubNoDrop(true), .receiveTimeout(.seconds(10))])
                handshake.endpoint.withLock { $0 = try? pub.bind("tcp://127.0.0.1:*") }
                // The subscription message says the subscriber's pipe is attached.
                _ = try pub.receiveFrame()
                let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
                try payload.withUnsafeBytes { bytes in
                    for _ in 0..<count { try pub.send(bytes: bytes) }
                }
            } catch {
                handshake.failure.withLock { $0 = error }
                handshake.endpoint.withLock { $0 = $0 ?? "" }
            }
            // Closing with messages still queued would drop them after the linger.
            while !handshake.drained.load(ordering: .acquiring) { usleep(1000) }
        }
        publisher.start()
        defer {
            handshake.drained.store(true, ordering: .releasing)
            handshake.finished.wait()
        }
        let endpoint = try handshake.awaitEndpoint()

        let context = try Context(defaultLinger: .zero)
        let sub = try Socket(.sub, context: context)
        try sub.set([.receiveHighWaterMark(hwm), .receiveTimeout(.seconds(10))])
        try sub.subscribe("")
        try sub.connect(endpoint)
        var start = ContinuousClock.now
        for received in 0..<count {
            switch style {
            case .borrowed: _ = try sub.receive { bytes, _ in bytes.count }
            case .frame: _ = try sub.receiveFrame().count
            }
            if received == 0 { start = .now }
        }
        let elapsed = ContinuousClock.now - start
        return Double(count - 1) / (elapsed / .seconds(1))
    }

    /// DEALER→ROUTER→DEALER echo over tcp loopback; nanoseconds of each round trip.
    static func roundTrips(size: Int, count: Int) throws -> [UInt64] {
        let handshake = Handshake()
        let echo = Thread {
            defer { handshake.finished.signal() }
            do {
                let context = try Context(defaultLinger: .zero)
                let router = try Socket(.router, context: context)
                try router.set(.receiveTimeout(.seconds(5)))
                let endpoint = try router.bind("tcp://127.0.0.1:*")
                handshake.endpoint.withLock { $0 = endpoint }
                for _ in 0..<count {
                    let identity = try router.receiveFrame()
                    let body = try router.receiveFrame()
                    try router.send(identity, more: true)
                    try router.send(body)
                }
            } catch {
                handshake.failure.withLock { $0 = error }
                handshake.endpoint.withLock { $0 = $0 ?? "" }
            }
        }
        echo.start()
        defer { handshake.finished.wait() }
        let endpoint = try handshake.awaitEndpoint()

        let context = try Context(defaultLinger: .zero)
        let dealer = try Socket(.dealer, context: context)
        try dealer.set(.receiveTimeout(.seconds(5)))
        try dealer.connect(endpoint)
        let payload = [UInt8](repeating: UInt8(ascii: "r"), count: size)
        var latencies: [UInt64] = []
        latencies.reserveCapacity(count)
        try payload.withUnsafeBytes { bytes in
            for _ in 0..<count {
                let start = DispatchTime.now().uptimeNanoseconds
                try dealer.send(bytes: bytes)
                _ = try dealer.receive { reply, _ in reply.count }
                latencies.append(DispatchTime.now().uptimeNanoseconds - start)
            }
        }
        return latencies
    }
}
