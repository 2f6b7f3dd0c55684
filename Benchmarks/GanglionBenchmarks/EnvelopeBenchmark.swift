import Foundation
import GanglionWire
import SwiftProtobuf

/// Encode and decode rate of a representative event envelope with swift-protobuf.
struct EnvelopeBenchmark {
    let envelopes: Int
    let rounds: Int

    /// An envelope shaped like a real agent event: all attributes set, a 256-byte payload.
    static func sample() -> EventEnvelope {
        var envelope = EventEnvelope()
        envelope.id = "01JD2V8K3M9Q4R7T0W5X6Y8Z1A"
        envelope.source = "/agents/fraud-detector/shard-7"
        envelope.specVersion = EventEnvelope.cloudEventsSpecVersion
        envelope.type = "com.example.transaction.created"
        envelope.subject = "account/4711"
        envelope.time = Google_Protobuf_Timestamp(seconds: 1_790_000_000, nanos: 123_456_789)
        envelope.dataContentType = EventEnvelope.protobufContentType
        envelope.key = Data("account-4711".utf8)
        envelope.schemaID = 42
        envelope.messageName = "shop.v1.TransactionCreated"
        envelope.correlationID = "corr-9f8e7d6c5b4a"
        envelope.causationID = "01JD2V8K3M9Q4R7T0W5X6Y8Z0Z"
        envelope.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        envelope.tracestate = "ganglion=shard7"
        envelope.extensions = ["tenant": "acme", "region": "eu-west-1"]
        envelope.data = Data(repeating: 0xAB, count: 256)
        return envelope
    }

    func run() throws {
        let envelope = Self.sample()
        let encoded: [UInt8] = try envelope.serializedBytes()
        print("== Envelope codec: \(encoded.count)-byte envelope, \(envelopes) per run, median of \(rounds) ==")
        var encodeRates: [Double] = [], decodeRates: [Double] = []
        var checksum = 0
        for _ in 0..<rounds {
            var start = ContinuousClock.now
            for _ in 0..<envelopes {
                let bytes: [UInt8] = try envelope.serializedBytes()
                checksum &+= bytes.count
            }
            encodeRates.append(Double(envelopes) / ((ContinuousClock.now - start) / .seconds(1)))
            start = ContinuousClock.now
            for _ in 0..<envelopes {
                let decoded = try EventEnvelope(serializedBytes: encoded)
                checksum &+= decoded.data.count
            }
            decodeRates.append(Double(envelopes) / ((ContinuousClock.now - start) / .seconds(1)))
        }
        let encode = Figures.median(encodeRates), decode = Figures.median(decodeRates)
        print("  encode  \(Figures.rate(encode, unit: "envelopes/s"))  (\(Figures.fixed(1e9 / encode, 0)) ns each)")
        print("  decode  \(Figures.rate(decode, unit: "envelopes/s"))  (\(Figures.fixed(1e9 / decode, 0)) ns each)")
        print("  encode+decode  \(Figures.rate(1 / (1 / encode + 1 / decode), unit: "envelopes/s"))  [checksum \(checksum % 997)]")
    }
}
