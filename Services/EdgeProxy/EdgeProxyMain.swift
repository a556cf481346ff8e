import SigilService

@main
enum EdgeProxyMain {
    static func main() async {
        await SigilServiceRuntime.main(.edgeProxy)
    }
}
