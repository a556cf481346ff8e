import Foundation
import SigilEvents
import SigilService
import Testing

@Suite("Derived event ids: the same response to the same event has the same id")
struct DerivedEventIDTests {
    @Test("same cause and type give the same id; another cause or type another; a version-8 UUID")
    func derived() throws {
        let cause = UUIDv7.generate()
        let granted = DerivedEventID.make(from: cause, type: AccessGranted.eventType)
        #expect(granted == DerivedEventID.make(from: cause, type: AccessGranted.eventType))
        #expect(granted != DerivedEventID.make(from: cause, type: AccessDenied.eventType))
        #expect(granted != DerivedEventID.make(from: UUIDv7.generate(), type: AccessGranted.eventType))
        let uuid = try #require(UUID(uuidString: granted))
        #expect(uuid.uuidString.lowercased() == granted)
        let characters = Array(granted)
        #expect(characters[14] == "8", "version nibble")
        #expect("89ab".contains(characters[19]), "RFC 9562 variant")
    }
}
