using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace LlmKit.ModelBuilder.HuggingFace;

/// <summary>The shape of a synthetic Hugging Face checkpoint; field names follow config.json.</summary>
internal sealed record HfSyntheticShape(string Architecture, int Hidden, int Intermediate, int Layers, int Heads, int KvHeads, int VocabSize, int MaxPositions)
{
    /// <summary>head_dim written to config.json; null = hidden / heads and the field is left out.</summary>
    public int? HeadDim { get; init; }

    public bool TieEmbeddings { get; init; }

    public int? SlidingWindow { get; init; }

    public float RopeTheta { get; init; } = 10000f;

    /// <summary>config.json's <c>rope_scaling</c> object as JSON text; null writes null (plain RoPE).</summary>
    public string? RopeScalingJson { get; init; }

    /// <summary>Phi3 only: the top-level <c>original_max_position_embeddings</c>; null writes max_position_embeddings.</summary>
    public int? OriginalMaxPositions { get; init; }

    /// <summary>Gemma2 only.</summary>
    public float QueryPreAttnScalar { get; init; } = 256f;

    /// <summary>Gemma2 only; 0 writes null.</summary>
    public float AttnLogitSoftcapping { get; init; }

    /// <summary>Gemma2 only; 0 writes null.</summary>
    public float FinalLogitSoftcapping { get; init; }

    public int EffectiveHeadDim => HeadDim ?? (Hidden / Heads);
}

/// <summary>
/// Writes seeded random Hugging Face checkpoints in the exact file layout transformers saves: config.json with its
/// field names, model.safetensors (or two shards and model.safetensors.index.json) with Hugging Face tensor names,
/// in F32, F16 or BF16. Tensors are generated and written one at a time, so a large benchmark checkpoint never sits
/// in memory. For tests and benchmarks; thread-safe (distinct folders).
/// </summary>
internal static class HfCheckpointSynthesizer
{
    /// <summary>Writes config.json and the safetensors files of <paramref name="shape"/> into <paramref name="folder"/>.</summary>
    /// <param name="folder">Folder to write into (created).</param>
    /// <param name="shape">The model shape.</param>
    /// <param name="seed">Random seed.</param>
    /// <param name="dtype">F32, F16 or BF16.</param>
    /// <param name="sharded">Two shards plus model.safetensors.index.json instead of one model.safetensors.</param>
    /// <param name="int4Exact">
    /// Snap every projection weight to the symmetric int4 grid (blocks of 32 along the input axis), so an int4
    /// conversion stores exactly these values and can be compared with the float reference tightly.
    /// </param>
    public static void Write(string folder, HfSyntheticShape shape, int seed, string dtype = "F32", bool sharded = false, bool int4Exact = false)
    {
        Directory.CreateDirectory(folder);
        WriteConfig(Path.Combine(folder, "config.json"), shape);
        var tensors = Tensors(shape);
        if (!sharded)
        {
            WriteSafetensors(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName), tensors, dtype, seed, int4Exact);
            return;
        }

        int split = tensors.Count / 2;
        string[] names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
        var parts = new[] { tensors.Take(split).ToList(), tensors.Skip(split).ToList() };
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long total = 0;
        for (int i = 0; i < 2; i++)
        {
            WriteSafetensors(Path.Combine(folder, names[i]), parts[i], dtype, seed, int4Exact);
            foreach (var t in parts[i])
            {
                map[t.Name] = names[i];
                total += t.Count * (dtype == "F32" ? 4 : 2);
            }
        }

        using var stream = File.Create(Path.Combine(folder, SafetensorsCheckpoint.IndexFileName));
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        json.WriteNumber("total_size", total);
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        foreach (var (name, file) in map)
        {
            json.WriteString(name, file);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>
    /// Writes tokenizer.json and tokenizer_config.json for a llama2.c tokenizer (the builder's own writers), so the
    /// folder is complete for onnxruntime-genai.
    /// </summary>
    public static void WriteTokenizer(string folder, Llama2cTokenizerFile tokenizer, int modelMaxLength)
    {
        TokenizerJsonWriter.Write(Path.Combine(folder, "tokenizer.json"), tokenizer);
        TokenizerConfigWriter.WriteTokenizerConfig(Path.Combine(folder, "tokenizer_config.json"), modelMaxLength);
    }

    private sealed record TensorPlan(string Name, long[] Shape, float Center, float Spread, bool Projection = false)
    {
        public long Count => Shape.Aggregate(1L, (a, d) => a * d);
    }

    private static List<TensorPlan> Tensors(HfSyntheticShape s)
    {
        string arch = s.Architecture;
        bool gemma = arch is "GemmaForCausalLM" or "Gemma2ForCausalLM";
        int h = s.Hidden, i = s.Intermediate, q = s.Heads * s.EffectiveHeadDim, kv = s.KvHeads * s.EffectiveHeadDim;
        float norm = gemma ? 0f : 1f; // Gemma stores w and multiplies by (1 + w)
        TensorPlan Linear(string name, int rows, int cols) => new(name, [rows, cols], 0f, 1f / MathF.Sqrt(cols), Projection: true);
        TensorPlan Norm(string name) => new(name, [h], norm, 0.2f);
        var list = new List<TensorPlan> { new("model.embed_tokens.weight", [s.VocabSize, h], 0f, 1f) };
        for (int l = 0; l < s.Layers; l++)
        {
            string p = $"model.layers.{l}";
            list.Add(Norm($"{p}.input_layernorm.weight"));
            if (arch == "Phi3ForCausalLM")
            {
                list.Add(Linear($"{p}.self_attn.qkv_proj.weight", q + (2 * kv), h));
            }
            else
            {
                list.Add(Linear($"{p}.self_attn.q_proj.weight", q, h));
                list.Add(Linear($"{p}.self_attn.k_proj.weight", kv, h));
                list.Add(Linear($"{p}.self_attn.v_proj.weight", kv, h));
                if (arch == "Qwen2ForCausalLM")
                {
                    list.Add(new($"{p}.self_attn.q_proj.bias", [q], 0f, 0.2f));
                    list.Add(new($"{p}.self_attn.k_proj.bias", [kv], 0f, 0.2f));
                    list.Add(new($"{p}.self_attn.v_proj.bias", [kv], 0f, 0.2f));
                }
            }

            list.Add(Linear($"{p}.self_attn.o_proj.weight", h, q));
            list.Add(Norm($"{p}.post_attention_layernorm.weight"));
            if (arch == "Gemma2ForCausalLM")
            {
                list.Add(Norm($"{p}.pre_feedforward_layernorm.weight"));
                list.Add(Norm($"{p}.post_feedforward_layernorm.weight"));
            }

            if (arch == "Phi3ForCausalLM")
            {
                list.Add(Linear($"{p}.mlp.gate_up_proj.weight", 2 * i, h));
            }
            else
            {
                list.Add(Linear($"{p}.mlp.gate_proj.weight", i, h));
                list.Add(Linear($"{p}.mlp.up_proj.weight", i, h));
            }

            list.Add(Linear($"{p}.mlp.down_proj.weight", h, i));
        }

        list.Add(Norm("model.norm.weight"));
        if (!s.TieEmbeddings)
        {
            list.Add(Linear("lm_head.weight", s.VocabSize, h));
        }

        return list;
    }

    private static void WriteSafetensors(string path, List<TensorPlan> tensors, string dtype, int seed, bool int4Exact)
    {
        int elementBytes = dtype switch
        {
            "F32" => 4,
            "F16" or "BF16" => 2,
            _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "dtype must be F32, F16 or BF16."),
        };

        var header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        foreach (var t in tensors)
        {
            long bytes = t.Count * elementBytes;
            header.Append(CultureInfo.InvariantCulture, $",\"{t.Name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", t.Shape)}],\"data_offsets\":[{offset},{offset + bytes}]}}");
            offset += bytes;
        }

        header.Append('}');
        while ((Encoding.UTF8.GetByteCount(header.ToString()) % 8) != 0)
        {
            header.Append(' '); // the format pads the header with spaces to an 8-byte boundary
        }

        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToString());
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)headerBytes.Length);
        stream.Write(prefix);
        stream.Write(headerBytes);

        const int chunk = 1 << 18;
        var values = new float[chunk];
        var halves = new ushort[chunk];
        foreach (var t in tensors)
        {
            // Each tensor has its own stream of numbers, so sharding does not change the weights. The mix is stable across
            // processes (HashCode.Combine is randomised per process, which made "seeded" checkpoints differ run to run).
            var random = new Random(unchecked((seed * 16777619) ^ StableHash(t.Name)));
            for (long done = 0; done < t.Count; done += chunk)
            {
                int n = (int)Math.Min(chunk, t.Count - done);
                for (int k = 0; k < n; k++)
                {
                    values[k] = t.Center + (t.Spread * ((2f * random.NextSingle()) - 1f));
                }

                if (int4Exact && t.Projection)
                {
                    SnapToInt4(values.AsSpan(0, n));
                }

                if (elementBytes == 4)
                {
                    stream.Write(MemoryMarshal.AsBytes(values.AsSpan(0, n)));
                    continue;
                }

                for (int k = 0; k < n; k++)
                {
                    halves[k] = dtype == "F16"
                        ? BitConverter.HalfToUInt16Bits((Half)values[k])
                        : (ushort)((BitConverter.SingleToUInt32Bits(values[k]) + 0x7FFF + ((BitConverter.SingleToUInt32Bits(values[k]) >> 16) & 1)) >> 16); // round to nearest even
                }

                stream.Write(MemoryMarshal.AsBytes(halves.AsSpan(0, n)));
            }
        }
    }

    // The chunk size is a multiple of 32 and each tensor starts a chunk, so blocks here are MatMulNBits' row blocks
    // whenever the input width is a multiple of 32. Same rule as Int4Quantizer's symmetric blocks: the value of
    // largest magnitude maps to -8.
    private static void SnapToInt4(Span<float> values)
    {
        for (int start = 0; start < values.Length; start += Onnx.Int4Quantizer.BlockSize)
        {
            Span<float> block = values.Slice(start, Math.Min(Onnx.Int4Quantizer.BlockSize, values.Length - start));
            float extreme = 0f;
            foreach (float v in block)
            {
                extreme = MathF.Abs(v) > MathF.Abs(extreme) ? v : extreme;
            }

            float scale = extreme / -8f;
            for (int i = 0; i < block.Length; i++)
            {
                int q = scale == 0f ? 8 : Math.Clamp((int)MathF.Round(block[i] / scale) + 8, 0, 15);
                block[i] = (q - 8) * scale;
            }
        }
    }

    private static int StableHash(string text)
    {
        unchecked
        {
            int hash = (int)2166136261;
            foreach (char c in text)
            {
                hash = (hash ^ c) * 16777619;
            }

            return hash;
        }
    }

    private static void WriteConfig(string path, HfSyntheticShape s)
    {
        string arch = s.Architecture;
        string modelType = HfConfigReader.SupportedArchitectures.TryGetValue(arch, out var t) ? t : "unknown";
        bool gemma = modelType is "gemma" or "gemma2";
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartArray("architectures");
        json.WriteStringValue(arch);
        json.WriteEndArray();
        json.WriteNumber("attention_dropout", 0.0);
        json.WriteNumber("bos_token_id", 1);
        json.WriteNumber("eos_token_id", 2);
        if (gemma)
        {
            json.WriteString("hidden_act", "gelu_pytorch_tanh");
            json.WriteString("hidden_activation", "gelu_pytorch_tanh");
        }
        else
        {
            json.WriteString("hidden_act", "silu");
        }

        if (s.HeadDim is { } headDim)
        {
            json.WriteNumber("head_dim", headDim);
        }

        json.WriteNumber("hidden_size", s.Hidden);
        json.WriteNumber("initializer_range", 0.02);
        json.WriteNumber("intermediate_size", s.Intermediate);
        json.WriteNumber("max_position_embeddings", s.MaxPositions);
        json.WriteString("model_type", modelType);
        json.WriteNumber("num_attention_heads", s.Heads);
        json.WriteNumber("num_hidden_layers", s.Layers);
        json.WriteNumber("num_key_value_heads", s.KvHeads);
        json.WriteNumber("pad_token_id", 0);
        json.WriteNumber("rms_norm_eps", 1e-6);
        if (s.RopeScalingJson is null)
        {
            json.WriteNull("rope_scaling");
        }
        else
        {
            json.WritePropertyName("rope_scaling");
            using var scaling = JsonDocument.Parse(s.RopeScalingJson);
            scaling.RootElement.WriteTo(json);
        }
        json.WriteNumber("rope_theta", s.RopeTheta);
        switch (modelType)
        {
            case "llama":
                json.WriteBoolean("attention_bias", false);
                json.WriteBoolean("mlp_bias", false);
                json.WriteNumber("pretraining_tp", 1);
                break;
            case "qwen2":
                json.WriteNumber("max_window_layers", s.Layers);
                json.WriteNumber("sliding_window", s.MaxPositions);
                json.WriteBoolean("use_sliding_window", false);
                break;
            case "mistral":
            case "phi3":
                if (s.SlidingWindow is { } w)
                {
                    json.WriteNumber("sliding_window", w);
                }
                else
                {
                    json.WriteNull("sliding_window");
                }

                if (modelType == "phi3")
                {
                    json.WriteNumber("original_max_position_embeddings", s.OriginalMaxPositions ?? s.MaxPositions);
                    json.WriteNumber("resid_pdrop", 0.0);
                }

                break;
            case "gemma2":
                json.WriteNumber("query_pre_attn_scalar", s.QueryPreAttnScalar);
                WriteNullable(json, "attn_logit_softcapping", s.AttnLogitSoftcapping);
                WriteNullable(json, "final_logit_softcapping", s.FinalLogitSoftcapping);
                json.WriteNumber("sliding_window", s.SlidingWindow ?? 4096);
                json.WriteString("cache_implementation", "hybrid");
                break;
        }

        json.WriteBoolean("tie_word_embeddings", s.TieEmbeddings);
        json.WriteString("torch_dtype", "float32");
        json.WriteString("transformers_version", "4.44.2");
        json.WriteBoolean("use_cache", true);
        json.WriteNumber("vocab_size", s.VocabSize);
        json.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, float value)
    {
        if (value > 0f)
        {
            json.WriteNumber(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
