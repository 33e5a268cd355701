namespace LlmKit.Benchmarks;

/// <summary>Small helpers the benchmark commands share: reading <c>--name value</c> options and a median.</summary>
internal static class BenchArguments
{
    /// <summary>The value after <paramref name="name"/>, or <paramref name="fallback"/> when the option is absent.</summary>
    public static string Option(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    /// <summary>The median (the mean of the two middle values for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
