import SigilService

@main
enum IdentityAttestationMain {
    static func main() async {
        await SigilServiceRuntime.main(.identityAttestation)
    }
}
