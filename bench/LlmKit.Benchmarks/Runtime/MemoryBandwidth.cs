using System.Diagnostics;

namespace LlmKit.Benchmarks.Runtime;

/// <summary>Measures this machine's memory copy bandwidth (bytes read + written per second), as FACTS.md does.</summary>
internal static class MemoryBandwidth
{
    public static double CopyBytesPerSecond(int threads, int megabytes = 512, int repetitions = 5)
    {
        long bytes = (long)megabytes << 20;
        var source = GC.AllocateUninitializedArray<byte>((int)bytes);
        var target = GC.AllocateUninitializedArray<byte>((int)bytes);
        Array.Fill(source, (byte)1);
        Array.Fill(target, (byte)2);
        double best = 0;
        for (int r = 0; r < repetitions; r++)
        {
            var clock = Stopwatch.StartNew();
            long chunk = bytes / threads;
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                source.AsSpan((int)(t * chunk), (int)chunk).CopyTo(target.AsSpan((int)(t * chunk), (int)chunk)));
            double rate = 2.0 * bytes / clock.Elapsed.TotalSeconds;
            best = Math.Max(best, rate);
        }

        return best;
    }
}
