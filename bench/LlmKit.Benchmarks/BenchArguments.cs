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

    /// <summary>A compression rate as the reports print it: 1/2, 1/5, 1/10, 1/20, else the decimal.</summary>
    public static string RateLabel(double rate) => rate switch
    {
        0.5 => "1/2",
        0.2 => "1/5",
        0.1 => "1/10",
        0.05 => "1/20",
        _ => rate.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture),
    };
}
