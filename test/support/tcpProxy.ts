// Moved to harness/ so benchmarks can use it without importing test support.
export { TcpProxy, type ProxyOptions } from "../../harness/tcpProxy";
