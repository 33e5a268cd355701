using System.Runtime.InteropServices;

namespace LlmKit.ModelBuilder;

/// <summary>
/// Writes seeded random llama2.c checkpoints of any Llama shape, and matching tokenizers, for tests and
/// benchmarks. The same config and seed always give the same bytes. Stateless and thread-safe.
/// </summary>
/// <remarks>
/// Projections are drawn from N(0, 1/fan_in) rather than the training-time N(0, 0.02): that keeps activations of
/// order one at every width, so attention is far from uniform and logits are well separated — a wrong RoPE,
/// mask or cache then shows up far above the test tolerance. Norm weights are 1 + N(0, 0.1²); embeddings N(0, 1).
/// </remarks>
public static class CheckpointSynthesizer
{
    /// <summary>Writes a random checkpoint; a negative vocab_size in the header when the classifier is not shared.</summary>
    /// <param name="path">Destination file (overwritten).</param>
    /// <param name="config">The shape; validated.</param>
    /// <param name="seed">Random seed.</param>
    /// <exception cref="ArgumentOutOfRangeException">The config is invalid (the message names the field).</exception>
    public static void Write(string path, LlamaConfig config, int seed)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();

        var random = new Random(seed);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using var writer = new BinaryWriter(stream);
        writer.Write(config.Dim);
        writer.Write(config.HiddenDim);
        writer.Write(config.Layers);
        writer.Write(config.Heads);
        writer.Write(config.KvHeads);
        writer.Write(config.SharedClassifier ? config.VocabSize : -config.VocabSize);
        writer.Write(config.SeqLen);

        int d = config.Dim, h = config.HiddenDim, l = config.Layers, kv = config.KvDim;
        var buffer = new float[1 << 16];
        void Normal(long count, float mean, float std) => WriteRandom(stream, random, buffer, count, mean, std);

        Normal((long)config.VocabSize * d, 0f, 1f);               // token_embedding_table
        Normal((long)l * d, 1f, 0.1f);                            // rms_att_weight
        Normal((long)l * d * d, 0f, 1f / MathF.Sqrt(d));          // wq
        Normal((long)l * kv * d, 0f, 1f / MathF.Sqrt(d));         // wk
        Normal((long)l * kv * d, 0f, 1f / MathF.Sqrt(d));         // wv
        Normal((long)l * d * d, 0f, 1f / MathF.Sqrt(d));          // wo
        Normal((long)l * d, 1f, 0.1f);                            // rms_ffn_weight
        Normal((long)l * h * d, 0f, 1f / MathF.Sqrt(d));          // w1
        Normal((long)l * d * h, 0f, 1f / MathF.Sqrt(h));          // w2
        Normal((long)l * h * d, 0f, 1f / MathF.Sqrt(d));          // w3
        Normal(d, 1f, 0.1f);                                      // rms_final_weight
        WriteLegacyRopeTables(writer, config);
        if (!config.SharedClassifier)
        {
            Normal((long)config.VocabSize * d, 0f, 1f / MathF.Sqrt(d)); // wcls
        }
    }

    /// <summary>
    /// Writes a tokenizer for a synthetic model: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 byte pieces, then printable
    /// ASCII characters and two-character pieces with decreasing scores, up to <paramref name="vocabSize"/>.
    /// </summary>
    /// <param name="path">Destination file (overwritten).</param>
    /// <param name="vocabSize">Number of pieces; at least 259 so every byte has a fallback piece.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vocabSize"/> is below 259.</exception>
    public static void WriteTokenizer(string path, int vocabSize)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        CreateTokenizer(vocabSize).Save(path);
    }

    /// <summary>Creates the tokenizer <see cref="WriteTokenizer"/> writes.</summary>
    /// <param name="vocabSize">Number of pieces; at least 259.</param>
    public static Llama2cTokenizerFile CreateTokenizer(int vocabSize)
    {
        const int minimum = Llama2cTokenizerFile.FirstByteId + 256;
        if (vocabSize < minimum)
        {
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, $"A synthetic tokenizer needs vocabSize >= {minimum} (3 special pieces and 256 byte pieces).");
        }

        var pieces = new List<string> { "<unk>", "<s>", "</s>" };
        for (int b = 0; b < 256; b++)
        {
            pieces.Add($"<0x{b:X2}>");
        }

        var seen = new HashSet<string>(pieces, StringComparer.Ordinal);
        foreach (string candidate in Candidates())
        {
            if (pieces.Count == vocabSize)
            {
                break;
            }

            if (seen.Add(candidate))
            {
                pieces.Add(candidate);
            }
        }

        // Scores: 0 for special and byte pieces, then decreasing so earlier (shorter, commoner) pieces merge first.
        var scores = new float[pieces.Count];
        for (int i = minimum; i < pieces.Count; i++)
        {
            scores[i] = -(i - minimum);
        }

        return new Llama2cTokenizerFile(pieces, scores);
    }

    private static IEnumerable<string> Candidates()
    {
        const string letters = " etaoinshrdlucmfwypvbgkjqxz";
        for (char c = ' '; c <= '~'; c++)
        {
            yield return c.ToString();
        }

        foreach (char a in letters)
        {
            foreach (char b in letters)
            {
                yield return $"{a}{b}";
            }
        }

        for (int n = 0; ; n++)
        {
            yield return $" w{n}"; // filler pieces for very large vocabularies
        }
    }

    private static void WriteRandom(Stream stream, Random random, float[] buffer, long count, float mean, float std)
    {
        while (count > 0)
        {
            int n = (int)Math.Min(count, buffer.Length);
            for (int i = 0; i < n; i += 2)
            {
                // Box-Muller: two independent normals from two uniforms.
                double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
                double radius = Math.Sqrt(-2.0 * Math.Log(u1));
                buffer[i] = mean + (std * (float)(radius * Math.Cos(2 * Math.PI * u2)));
                if (i + 1 < n)
                {
                    buffer[i + 1] = mean + (std * (float)(radius * Math.Sin(2 * Math.PI * u2)));
                }
            }

            stream.Write(MemoryMarshal.AsBytes(buffer.AsSpan(0, n)));
            count -= n;
        }
    }

    // freq_cis_real / freq_cis_imag as llama2.c's export wrote them; readers ignore them.
    private static void WriteLegacyRopeTables(BinaryWriter writer, LlamaConfig config)
    {
        int half = config.HeadSize / 2;
        var table = new float[config.SeqLen * half];
        Onnx.WeightTransforms.RopeTable(table, config.SeqLen, config.HeadSize, config.RopeTheta, cosine: true);
        writer.Write(MemoryMarshal.AsBytes(table.AsSpan()));
        Onnx.WeightTransforms.RopeTable(table, config.SeqLen, config.HeadSize, config.RopeTheta, cosine: false);
        writer.Write(MemoryMarshal.AsBytes(table.AsSpan()));
    }
}
