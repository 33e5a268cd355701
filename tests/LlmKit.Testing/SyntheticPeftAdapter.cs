using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using LlmKit.ModelBuilder;

namespace LlmKit.Testing;

/// <summary>
/// A seeded random LoRA adapter written at test time as a PEFT folder (<c>adapter_config.json</c> +
/// <c>adapter_model.safetensors</c>) with PEFT's exact tensor names and layouts (lora_A.weight [r, in], lora_B.weight
/// [out, r], F32), and the merged weights W + (alpha / r)·B·A it stands for, for the reference forward. Immutable.
/// </summary>
public sealed class SyntheticPeftAdapter
{
    private static readonly Dictionary<string, string> ModuleParents = new(StringComparer.Ordinal)
    {
        ["q_proj"] = "self_attn", ["k_proj"] = "self_attn", ["v_proj"] = "self_attn", ["o_proj"] = "self_attn",
        ["gate_proj"] = "mlp", ["up_proj"] = "mlp", ["down_proj"] = "mlp",
    };

    private readonly Dictionary<(int Layer, string Module), (float[] A, float[] B)> _tensors = [];

    private SyntheticPeftAdapter(LlamaConfig config, int rank, double alpha, string[] targets)
    {
        Config = config;
        Rank = rank;
        Alpha = alpha;
        Targets = targets;
    }

    /// <summary>The base model's shape.</summary>
    public LlamaConfig Config { get; }

    /// <summary>PEFT's r.</summary>
    public int Rank { get; }

    /// <summary>PEFT's lora_alpha.</summary>
    public double Alpha { get; }

    /// <summary>The adapted projections (q_proj, ..., down_proj).</summary>
    public string[] Targets { get; }

    /// <summary>
    /// Creates an adapter for every layer and target, with A ~ N(0, 1/in) and B ~ N(0, 1/r) so that the scaled delta
    /// changes logits well above any test tolerance, and writes it as a PEFT folder.
    /// </summary>
    /// <param name="folder">The PEFT folder to create.</param>
    /// <param name="config">The base model's shape.</param>
    /// <param name="rank">r.</param>
    /// <param name="alpha">lora_alpha.</param>
    /// <param name="targets">target_modules.</param>
    /// <param name="seed">Random seed.</param>
    public static SyntheticPeftAdapter Write(string folder, LlamaConfig config, int rank, double alpha, string[] targets, int seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        var adapter = new SyntheticPeftAdapter(config, rank, alpha, targets);
        var random = new Random(seed);
        for (int l = 0; l < config.Layers; l++)
        {
            foreach (string module in targets)
            {
                var (outFeatures, inFeatures) = Shape(config, module);
                adapter._tensors[(l, module)] = (Normal(random, rank * inFeatures, 1 / Math.Sqrt(inFeatures)), Normal(random, outFeatures * rank, 1 / Math.Sqrt(rank)));
            }
        }

        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "adapter_config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["r"] = rank,
            ["lora_alpha"] = alpha,
            ["lora_dropout"] = 0.05,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["target_modules"] = targets,
            ["base_model_name_or_path"] = "synthetic",
        }));
        adapter.WriteSafetensors(Path.Combine(folder, "adapter_model.safetensors"));
        return adapter;
    }

    /// <summary>Fresh weights from <paramref name="checkpointPath"/> with every adapted W replaced by W + (alpha / r)·B·A.</summary>
    /// <param name="checkpointPath">The base model's llama2.c checkpoint.</param>
    public Llama2cWeights MergedWeights(string checkpointPath)
    {
        var weights = Llama2cCheckpoint.Load(checkpointPath).Weights; // a private copy: it is modified below
        double scale = Alpha / Rank;
        foreach (var (layer, module) in _tensors.Keys)
        {
            var (outFeatures, inFeatures) = Shape(Config, module);
            float[] stacked = module switch
            {
                "q_proj" => weights.Wq, "k_proj" => weights.Wk, "v_proj" => weights.Wv, "o_proj" => weights.Wo,
                "gate_proj" => weights.W1, "up_proj" => weights.W3, _ => weights.W2,
            };
            MergeInto(layer, module, stacked.AsSpan(layer * outFeatures * inFeatures, outFeatures * inFeatures));
        }

        return weights;
    }

    /// <summary>
    /// Adds (alpha / r)·B·A of <paramref name="module"/> in <paramref name="layer"/> to <paramref name="weight"/>, a
    /// row-major [out, in] projection weight (as Hugging Face stores it); nothing when the adapter does not target it.
    /// </summary>
    /// <param name="layer">Decoder layer.</param>
    /// <param name="module">q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or down_proj.</param>
    /// <param name="weight">The weight to modify in place.</param>
    public void MergeInto(int layer, string module, Span<float> weight)
    {
        if (!_tensors.TryGetValue((layer, module), out var pair))
        {
            return;
        }

        var (a, b) = pair;
        var (outFeatures, inFeatures) = Shape(Config, module);
        if (weight.Length != outFeatures * inFeatures)
        {
            throw new ArgumentException($"{module} weight has {weight.Length} values, expected {outFeatures} x {inFeatures}.", nameof(weight));
        }

        double scale = Alpha / Rank;
        for (int o = 0; o < outFeatures; o++)
        {
            for (int i = 0; i < inFeatures; i++)
            {
                double delta = 0;
                for (int r = 0; r < Rank; r++)
                {
                    delta += (double)b[(o * Rank) + r] * a[(r * inFeatures) + i];
                }

                weight[(o * inFeatures) + i] += (float)(scale * delta);
            }
        }
    }

    private void WriteSafetensors(string path)
    {
        var header = new Dictionary<string, object>();
        var data = new MemoryStream();
        foreach (var ((layer, module), (a, b)) in _tensors.OrderBy(t => t.Key.Layer).ThenBy(t => t.Key.Module, StringComparer.Ordinal))
        {
            var (outFeatures, inFeatures) = Shape(Config, module);
            string prefix = $"base_model.model.model.layers.{layer}.{ModuleParents[module]}.{module}";
            Add($"{prefix}.lora_A.weight", a, [Rank, inFeatures]);
            Add($"{prefix}.lora_B.weight", b, [outFeatures, Rank]);
        }

        header["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" };
        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8; // the format pads the header with spaces to 8 bytes
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        file.Write(length);
        file.Write(json);
        file.Write(Enumerable.Repeat((byte)' ', padded - json.Length).ToArray());
        data.Position = 0;
        data.CopyTo(file);

        void Add(string name, float[] values, int[] shape)
        {
            long begin = data.Length;
            var bytes = new byte[4];
            foreach (float v in values)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes, v);
                data.Write(bytes);
            }

            header[name] = new Dictionary<string, object> { ["dtype"] = "F32", ["shape"] = shape, ["data_offsets"] = new[] { begin, data.Length } };
        }
    }

    private static (int Out, int In) Shape(LlamaConfig c, string module) => module switch
    {
        "q_proj" or "o_proj" => (c.Dim, c.Dim),
        "k_proj" or "v_proj" => (c.KvDim, c.Dim),
        "gate_proj" or "up_proj" => (c.HiddenDim, c.Dim),
        "down_proj" => (c.Dim, c.HiddenDim),
        _ => throw new ArgumentOutOfRangeException(nameof(module), module, "Not a Llama projection."),
    };

    private static float[] Normal(Random random, int count, double std)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = (float)(std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return values;
    }
}
