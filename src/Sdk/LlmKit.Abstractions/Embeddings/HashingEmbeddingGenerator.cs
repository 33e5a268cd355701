using System.Globalization;
using System.Numerics.Tensors;
using System.Text;
using Microsoft.Extensions.AI;

namespace LlmKit.Embeddings;

/// <summary>
/// An embedding generator that needs no model: word and character n-grams are hashed into a
/// fixed number of buckets (signed feature hashing), weighted by sublinear term frequency
/// (1 + ln tf) and L2-normalised, so cosine similarity is a dot product.
/// </summary>
/// <remarks>
/// Deterministic across processes and machines (a fixed FNV-1a hash, invariant culture).
/// It captures lexical overlap, not meaning; it is the offline default for LlmKit's plugins and can be
/// replaced by any model-based <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> through DI.
/// Thread-safe: instances hold no mutable state.
/// </remarks>
public sealed class HashingEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private const string ModelId = "llmkit-hashing";
    private readonly HashingEmbeddingOptions _options;
    private readonly EmbeddingGeneratorMetadata _metadata;

    /// <summary>Creates a generator with the given settings (defaults when null).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is outside its allowed range.</exception>
    public HashingEmbeddingGenerator(HashingEmbeddingOptions? options = null)
    {
        _options = options ?? new HashingEmbeddingOptions();
        _options.Validate();
        _metadata = new EmbeddingGeneratorMetadata("llmkit", providerUri: null, ModelId, _options.Dimensions);
    }

    /// <summary>Length of every vector this generator returns.</summary>
    public int Dimensions => _options.Dimensions;

    /// <inheritdoc />
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var result = new GeneratedEmbeddings<Embedding<float>>();
        foreach (var value in values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            result.Add(new Embedding<float>(Embed(value)) { ModelId = ModelId, CreatedAt = null });
        }

        return Task.FromResult(result);
    }

    /// <summary>Embeds one text synchronously (the same vector <see cref="GenerateAsync"/> returns).</summary>
    /// <param name="text">The text; null is treated as empty. An empty text gives the zero vector.</param>
    public float[] Embed(string? text)
    {
        var vector = new float[_options.Dimensions];
        if (string.IsNullOrEmpty(text))
        {
            return vector;
        }

        var counts = new Dictionary<uint, (int Count, float Weight)>();
        var words = Tokenize(text);
        AddWordNGrams(words, counts);
        if (_options.MinCharNGram > 0 && _options.CharNGramWeight > 0)
        {
            AddCharNGrams(words, counts);
        }

        foreach (var (hash, (count, weight)) in counts)
        {
            // Low bits choose the bucket, the top bit the sign (signed hashing keeps collisions unbiased).
            int bucket = (int)(hash % (uint)vector.Length);
            float sign = (hash & 0x8000_0000u) != 0 ? -1f : 1f;
            vector[bucket] += sign * weight * (1f + MathF.Log(count));
        }

        float norm = TensorPrimitives.Norm(vector);
        if (norm > 0)
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }

        return vector;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        if (serviceType == typeof(EmbeddingGeneratorMetadata))
        {
            return _metadata;
        }

        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Nothing to release.
    }

    private List<string> Tokenize(string text)
    {
        string normalized = text.Normalize(NormalizationForm.FormKC);
        if (_options.Lowercase)
        {
            normalized = normalized.ToLower(CultureInfo.InvariantCulture);
        }

        var words = new List<string>();
        var current = new StringBuilder();
        foreach (var rune in normalized.EnumerateRunes())
        {
            if (Rune.IsLetterOrDigit(rune) || rune.Value == '\'')
            {
                current.Append(rune.ToString());
                continue;
            }

            Flush();
            if (!Rune.IsWhiteSpace(rune) && !Rune.IsControl(rune))
            {
                // Punctuation and symbols (e.g. '?', '!', emoji) are words of their own.
                words.Add(rune.ToString());
            }
        }

        Flush();
        return words;

        void Flush()
        {
            if (current.Length > 0)
            {
                words.Add(current.ToString());
                current.Clear();
            }
        }
    }

    private void AddWordNGrams(List<string> words, Dictionary<uint, (int Count, float Weight)> counts)
    {
        for (int n = 1; n <= _options.MaxWordNGram; n++)
        {
            for (int i = 0; i + n <= words.Count; i++)
            {
                uint hash = Fnv1a.Seed(0x57u + (uint)n);
                for (int j = i; j < i + n; j++)
                {
                    hash = Fnv1a.Append(hash, words[j]);
                    hash = Fnv1a.Append(hash, '\u0001');
                }

                Add(counts, hash, 1f);
            }
        }
    }

    private void AddCharNGrams(List<string> words, Dictionary<uint, (int Count, float Weight)> counts)
    {
        foreach (var word in words)
        {
            string marked = "<" + word + ">";
            for (int n = _options.MinCharNGram; n <= _options.MaxCharNGram; n++)
            {
                for (int i = 0; i + n <= marked.Length; i++)
                {
                    uint hash = Fnv1a.Append(Fnv1a.Seed(0xC4u + (uint)n), marked.AsSpan(i, n));
                    Add(counts, hash, _options.CharNGramWeight);
                }
            }
        }
    }

    private static void Add(Dictionary<uint, (int Count, float Weight)> counts, uint hash, float weight)
    {
        // On a (rare) collision between a word and a character feature, keep the larger weight rather than the last one.
        counts[hash] = counts.TryGetValue(hash, out var entry) ? (entry.Count + 1, MathF.Max(entry.Weight, weight)) : (1, weight);
    }

    /// <summary>32-bit FNV-1a over UTF-16 code units: stable across runs, unlike string.GetHashCode.</summary>
    private static class Fnv1a
    {
        private const uint Offset = 2166136261;
        private const uint Prime = 16777619;

        public static uint Seed(uint salt) => Append(Offset, (char)salt);

        public static uint Append(uint hash, char c)
        {
            hash = (hash ^ (byte)c) * Prime;
            return (hash ^ (byte)(c >> 8)) * Prime;
        }

        public static uint Append(uint hash, ReadOnlySpan<char> text)
        {
            foreach (char c in text)
            {
                hash = Append(hash, c);
            }

            return hash;
        }
    }
}
