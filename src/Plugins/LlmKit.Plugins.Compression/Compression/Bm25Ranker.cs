using System.Globalization;

namespace LlmKit.Plugins.Compression;

/// <summary>
/// Okapi BM25 over lower-cased words (runs of letters and digits): scores documents against a query using only the
/// documents themselves for the inverse document frequencies. Small and model-free; the question-aware compressor's
/// lexical ranker.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class Bm25Ranker
{
    /// <summary>Term-frequency saturation (the usual 1.2).</summary>
    public const double K1 = 1.2;

    /// <summary>Length normalisation (the usual 0.75).</summary>
    public const double B = 0.75;

    /// <summary>Scores each document against <paramref name="query"/>; higher is more relevant, 0 means no shared word.</summary>
    /// <param name="query">The query (e.g. the question).</param>
    /// <param name="documents">The documents (e.g. a context's sentences).</param>
    /// <returns>One score per document, in order.</returns>
    /// <exception cref="ArgumentNullException">An argument or a document is null.</exception>
    public static double[] Score(string query, IReadOnlyList<string> documents)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(documents);
        var terms = new List<Dictionary<string, int>>(documents.Count);
        var lengths = new int[documents.Count];
        var documentFrequency = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int d = 0; d < documents.Count; d++)
        {
            ArgumentNullException.ThrowIfNull(documents[d], nameof(documents));
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (string word in Words(documents[d]))
            {
                counts[word] = counts.TryGetValue(word, out int c) ? c + 1 : 1;
                lengths[d]++;
            }

            foreach (string word in counts.Keys)
            {
                documentFrequency[word] = documentFrequency.TryGetValue(word, out int df) ? df + 1 : 1;
            }

            terms.Add(counts);
        }

        var scores = new double[documents.Count];
        if (documents.Count == 0)
        {
            return scores;
        }

        double averageLength = Math.Max(1e-9, lengths.Average());
        var queryTerms = new HashSet<string>(Words(query), StringComparer.Ordinal);
        foreach (string term in queryTerms)
        {
            if (!documentFrequency.TryGetValue(term, out int df))
            {
                continue;
            }

            double idf = Math.Log(1 + ((documents.Count - df + 0.5) / (df + 0.5)));
            for (int d = 0; d < documents.Count; d++)
            {
                if (terms[d].TryGetValue(term, out int tf))
                {
                    scores[d] += idf * tf * (K1 + 1) / (tf + (K1 * (1 - B + (B * lengths[d] / averageLength))));
                }
            }
        }

        return scores;
    }

    /// <summary>The lower-cased words (letter and digit runs) of <paramref name="text"/>.</summary>
    internal static IEnumerable<string> Words(string text)
    {
        int i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && !char.IsLetterOrDigit(text[i]))
            {
                i++;
            }

            int start = i;
            while (i < text.Length && char.IsLetterOrDigit(text[i]))
            {
                i++;
            }

            if (i > start)
            {
                yield return text[start..i].ToLower(CultureInfo.InvariantCulture);
            }
        }
    }
}
