using System.Text;

namespace LlmKit.Plugins.FewShot.Metrics;

/// <summary>Precision, recall and F-measure of a ROUGE comparison, each in [0, 1].</summary>
/// <param name="Precision">LCS length ÷ candidate length.</param>
/// <param name="Recall">LCS length ÷ reference length.</param>
/// <param name="F1">Harmonic mean of precision and recall (0 when both are 0).</param>
public readonly record struct RougeScore(double Precision, double Recall, double F1);

/// <summary>
/// ROUGE-L (Lin, 2004): overlap of two texts measured by the longest common subsequence of their words.
/// Words are lower-cased runs of letters and digits (everything else separates words), matching the
/// default tokenisation of the reference <c>rouge-score</c> package. Self-Instruct keeps a generated
/// instruction only if its ROUGE-L F1 with every kept instruction is below 0.7.
/// </summary>
/// <remarks>Stateless and thread-safe. Time O(n·m), memory O(min(n, m)).</remarks>
public static class RougeL
{
    /// <summary>Compares <paramref name="candidate"/> with <paramref name="reference"/>.</summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static RougeScore Score(string candidate, string reference)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(reference);
        return Score(Tokenize(candidate), Tokenize(reference));
    }

    /// <summary>Compares two token sequences (ordinal comparison).</summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static RougeScore Score(IReadOnlyList<string> candidateTokens, IReadOnlyList<string> referenceTokens)
    {
        ArgumentNullException.ThrowIfNull(candidateTokens);
        ArgumentNullException.ThrowIfNull(referenceTokens);
        if (candidateTokens.Count == 0 || referenceTokens.Count == 0)
        {
            return default;
        }

        int lcs = LongestCommonSubsequence(candidateTokens, referenceTokens);
        double precision = (double)lcs / candidateTokens.Count;
        double recall = (double)lcs / referenceTokens.Count;
        double f1 = lcs == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new RougeScore(precision, recall, f1);
    }

    /// <summary>Length of the longest common subsequence of two token sequences.</summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static int LongestCommonSubsequence(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count < b.Count)
        {
            (a, b) = (b, a);
        }

        // Two rows over the shorter sequence.
        var previous = new int[b.Count + 1];
        var current = new int[b.Count + 1];
        for (int i = 1; i <= a.Count; i++)
        {
            for (int j = 1; j <= b.Count; j++)
            {
                current[j] = string.Equals(a[i - 1], b[j - 1], StringComparison.Ordinal)
                    ? previous[j - 1] + 1
                    : Math.Max(previous[j], current[j - 1]);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Count];
    }

    /// <summary>Lower-cased runs of letters and digits.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    public static IReadOnlyList<string> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<string>();
        var current = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            if (Rune.IsLetterOrDigit(rune))
            {
                current.Append(Rune.ToLowerInvariant(rune).ToString());
            }
            else if (current.Length > 0)
            {
                tokens.Add(current.ToString());
                current.Clear();
            }
        }

        if (current.Length > 0)
        {
            tokens.Add(current.ToString());
        }

        return tokens;
    }
}
