package org.tessella.cuda;

/**
 * What the driver reports about one GPU. {@link #architecture()} is the NVRTC target for its compute capability.
 *
 * @param driverVersion CUDA driver version as the driver encodes it (13000 = 13.0)
 */
public record DeviceInfo(int ordinal, String name, int major, int minor, int multiprocessors, long totalMemory,
                         int memoryClockKHz, int memoryBusWidth, int driverVersion) {

    /** The real architecture, "sm_90" for compute capability 9.0. */
    public String architecture() { return "sm_" + major + minor; }

    /** Peak memory bandwidth in GB/s from clock and bus width (0 when the driver did not say). */
    public double peakBandwidthGBs() { return 2.0 * memoryClockKHz * 1e3 * (memoryBusWidth / 8.0) / 1e9; }

    @Override public String toString() {
        return String.format("cuda:%d %s (compute %d.%d, %d SMs, %.1f GiB, driver %d.%d)", ordinal, name, major, minor,
                multiprocessors, totalMemory / (double) (1L << 30), driverVersion / 1000, driverVersion % 1000 / 10);
    }
}
