import Foundation
import SigilEvents
import Testing

@Suite("Base64url (RFC 4648 §5): what tokens, cursors and key members are written in")
struct Base64URLTests {
    @Test("the RFC's test vectors, written without padding, read with or without it; other text refused")
    func vectors() {
        // RFC 4648 §10, in the URL alphabet; and bytes whose standard encoding has + and /.
        let vectors: [(String, String)] = [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in vectors {
            #expect(Data(plain.utf8).base64URLEncodedString == encoded)
            #expect(Data(base64URLEncoded: encoded) == Data(plain.utf8))
        }
        let awkward = Data([0xFB, 0xFF, 0xBF])
        #expect(awkward.base64EncodedString() == "+/+/")
        #expect(awkward.base64URLEncodedString == "-_-_")
        #expect(Data(base64URLEncoded: "-_-_") == awkward)
        #expect(Data(base64URLEncoded: "Zg==") == Data("f".utf8), "padding is accepted")
        for text in ["+/+/", "Zg=", "Z", "a b", "!!!", "Zm9v\0"] {
            #expect(Data(base64URLEncoded: text) == nil, "\(text)")
        }
    }
}
