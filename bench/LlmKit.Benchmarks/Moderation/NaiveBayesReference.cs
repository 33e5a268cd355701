using System.Text.RegularExpressions;

namespace LlmKit.Benchmarks.Moderation;

/// <summary>
/// A second lexical learner, for reference only (not a moderator path): Bernoulli naive Bayes log-odds over words,
/// word bigrams and 5-letter word prefixes (a crude stemmer), add-0.5 smoothing. It shows how far a different
/// model over the same kind of evidence (which words the 20% training split happens to contain) gets.
/// </summary>
internal sealed partial class NaiveBayesReference
{
    private const double Smoothing = 0.5;
    private readonly Dictionary<string, (int In, int Off)> _counts = [];
    private readonly int _inCount;
    private readonly int _offCount;

    public NaiveBayesReference(IReadOnlyList<string> inDomain, IReadOnlyList<string> offDomain)
    {
        foreach ((IReadOnlyList<string> texts, bool off) in new[] { (inDomain, false), (offDomain, true) })
        {
            foreach (string text in texts)
            {
                foreach (string feature in Features(text))
                {
                    _counts.TryGetValue(feature, out var count);
                    _counts[feature] = off ? (count.In, count.Off + 1) : (count.In + 1, count.Off);
                }
            }
        }

        (_inCount, _offCount) = (inDomain.Count, offDomain.Count);
    }

    /// <summary>Log-odds that <paramref name="text"/> is off-domain (features unseen in training contribute nothing).</summary>
    public double OffDomainLogOdds(string text)
    {
        double sum = 0;
        foreach (string feature in Features(text))
        {
            if (_counts.TryGetValue(feature, out var count))
            {
                sum += Math.Log((count.Off + Smoothing) / (_offCount + (2 * Smoothing)))
                     - Math.Log((count.In + Smoothing) / (_inCount + (2 * Smoothing)));
            }
        }

        return sum;
    }

    private static HashSet<string> Features(string text)
    {
        string[] words = [.. Word().Matches(text.ToLowerInvariant()).Select(m => m.Value)];
        var features = new HashSet<string>(words);
        for (int i = 0; i < words.Length; i++)
        {
            features.Add("~" + words[i][..Math.Min(5, words[i].Length)]);
            if (i > 0)
            {
                features.Add(words[i - 1] + " " + words[i]);
            }
        }

        return features;
    }

    [GeneratedRegex("[a-z0-9']+")]
    private static partial Regex Word();
}
