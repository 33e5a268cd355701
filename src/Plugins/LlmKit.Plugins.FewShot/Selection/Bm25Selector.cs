using System.Buffers;
using LlmKit.Plugins.FewShot.Storage;

namespace LlmKit.Plugins.FewShot.Selection;

/// <summary>
/// Lexical selection with Okapi BM25 over word n-grams of the example inputs; needs no embeddings.
/// Scores are BM25 values (0 when an example shares no term with the query). When fewer than <c>count</c>
/// examples match, the rest are filled with non-matching examples in store order (score 0), so a prompt always
/// gets the requested number of examples.
/// </summary>
/// <remarks>Thread-safe; the inverted index is rebuilt on first use after the store changes.</remarks>
public sealed class Bm25Selector : IFewShotSelector
{
    private readonly FewShotExampleStore _store;
    private readonly Lock _gate = new();
    private Bm25Index? _index;

    /// <summary>Creates a BM25 selector.</summary>
    /// <param name="store">The example pool.</param>
    /// <param name="k1">Term-frequency saturation, ≥ 0. Default 1.2.</param>
    /// <param name="b">Length normalisation in [0, 1]. Default 0.75.</param>
    /// <param name="maxNGram">Longest word n-gram indexed, 1 to 3 (2 adds bigram overlap). Default 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public Bm25Selector(FewShotExampleStore store, double k1 = 1.2, double b = 0.75, int maxNGram = 1)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!(k1 >= 0 && double.IsFinite(k1)))
        {
            throw new ArgumentOutOfRangeException(nameof(k1), k1, "k1 must be a finite number >= 0.");
        }

        if (!(b is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(b), b, "b must be between 0 and 1.");
        }

        if (maxNGram is < 1 or > 3)
        {
            throw new ArgumentOutOfRangeException(nameof(maxNGram), maxNGram, "maxNGram must be between 1 and 3.");
        }

        _store = store;
        K1 = k1;
        B = b;
        MaxNGram = maxNGram;
    }

    /// <summary>Term-frequency saturation.</summary>
    public double K1 { get; }

    /// <summary>Length normalisation.</summary>
    public double B { get; }

    /// <summary>Longest word n-gram indexed.</summary>
    public int MaxNGram { get; }

    /// <inheritdoc />
    public Task<IReadOnlyList<SelectedExample>> SelectAsync(string input, int count, CancellationToken cancellationToken = default)
    {
        SelectorGuard.CheckArguments(input, count);
        cancellationToken.ThrowIfCancellationRequested();
        var index = GetIndex();
        int n = index.Examples.Count;
        if (n == 0)
        {
            return Task.FromResult<IReadOnlyList<SelectedExample>>([]);
        }

        float[] scores = ArrayPool<float>.Shared.Rent(n);
        try
        {
            index.Score(TextTerms.NGrams(input, MaxNGram), scores.AsSpan(0, n), K1, B);
            int[] top = TopK.Largest(scores.AsSpan(0, n), count);
            var result = new SelectedExample[top.Length];
            for (int i = 0; i < top.Length; i++)
            {
                result[i] = new SelectedExample(index.Examples[top[i]], scores[top[i]]);
            }

            return Task.FromResult<IReadOnlyList<SelectedExample>>(result);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scores);
        }
    }

    private Bm25Index GetIndex()
    {
        var snapshot = _store.GetSnapshot();
        var index = Volatile.Read(ref _index);
        if (index is not null && index.Version == snapshot.Version)
        {
            return index;
        }

        lock (_gate)
        {
            if (_index is null || _index.Version != snapshot.Version)
            {
                Volatile.Write(ref _index, new Bm25Index(snapshot, MaxNGram));
            }

            return _index!;
        }
    }

    /// <summary>Postings (example, term frequency) per term, plus document lengths.</summary>
    private sealed class Bm25Index
    {
        private readonly Dictionary<string, List<(int Doc, int Tf)>> _postings = new(StringComparer.Ordinal);
        private readonly int[] _lengths;
        private readonly double _averageLength;

        public Bm25Index(StoreSnapshot snapshot, int maxNGram)
        {
            Examples = snapshot.Examples;
            Version = snapshot.Version;
            _lengths = new int[Examples.Count];
            long total = 0;
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int doc = 0; doc < Examples.Count; doc++)
            {
                var terms = TextTerms.NGrams(Examples[doc].Input, maxNGram);
                _lengths[doc] = terms.Count;
                total += terms.Count;
                counts.Clear();
                foreach (var term in terms)
                {
                    counts[term] = counts.GetValueOrDefault(term) + 1;
                }

                foreach (var (term, tf) in counts)
                {
                    if (!_postings.TryGetValue(term, out var list))
                    {
                        _postings[term] = list = [];
                    }

                    list.Add((doc, tf));
                }
            }

            _averageLength = Examples.Count == 0 ? 0 : Math.Max(1e-9, (double)total / Examples.Count);
        }

        public IReadOnlyList<FewShotExample> Examples { get; }

        public long Version { get; }

        public void Score(List<string> queryTerms, Span<float> scores, double k1, double b)
        {
            scores.Clear();
            int n = Examples.Count;
            foreach (var term in queryTerms.Distinct(StringComparer.Ordinal))
            {
                if (!_postings.TryGetValue(term, out var postings))
                {
                    continue;
                }

                // The "+1" form of IDF (Lucene's) stays positive even for terms in most examples.
                double idf = Math.Log(1 + ((n - postings.Count + 0.5) / (postings.Count + 0.5)));
                foreach (var (doc, tf) in postings)
                {
                    double norm = k1 * (1 - b + (b * _lengths[doc] / _averageLength));
                    scores[doc] += (float)(idf * tf * (k1 + 1) / (tf + norm));
                }
            }
        }
    }
}
