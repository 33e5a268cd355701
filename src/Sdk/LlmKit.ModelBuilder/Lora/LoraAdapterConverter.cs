using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Google.Protobuf;
using LlmKit.ModelBuilder.HuggingFace;
using LlmKit.ModelBuilder.Lora;
using LlmKit.ModelBuilder.Onnx.Protos;

namespace LlmKit.ModelBuilder;

/// <summary>What <see cref="LoraAdapterConverter"/> converts. Immutable.</summary>
/// <param name="BaseFolder">A model folder the builder wrote with LoRA inputs (<see cref="Llama2cConversionRequest.LoraInputs"/>, <c>--lora</c>).</param>
/// <param name="PeftFolder">A PEFT folder: <c>adapter_config.json</c> and <c>adapter_model.safetensors</c>.</param>
/// <param name="OutputPath">The <c>.onnx_adapter</c> file to write (replaced if it exists).</param>
public sealed record LoraAdapterConversionRequest(string BaseFolder, string PeftFolder, string OutputPath);

/// <summary>What an adapter conversion wrote.</summary>
/// <param name="OutputPath">The adapter file.</param>
/// <param name="Rank">PEFT's <c>r</c>.</param>
/// <param name="Scale">The factor folded into every B: lora_alpha / r (lora_alpha / √r with use_rslora).</param>
/// <param name="Modules">Adapted projections (layer × module pairs).</param>
/// <param name="Parameters">Tensors written (two per adapted projection).</param>
public sealed record LoraAdapterConversionSummary(string OutputPath, int Rank, double Scale, int Modules, int Parameters)
{
    /// <summary>
    /// The base's q/k row order as its converter recorded it: "llama2c" (adjacent-pair RoPE rows) or "huggingface" (the
    /// checkpoint's own rows); "unrecorded" for folders written before the order was recorded (llama2.c bases). The
    /// tensors are applied as they are in both cases: the adapter must have been trained on the weights in that order.
    /// </summary>
    public string BaseRowOrder { get; init; } = UnrecordedRowOrder;

    /// <summary>The <see cref="BaseRowOrder"/> of a base folder without the metadata entry.</summary>
    public const string UnrecordedRowOrder = "unrecorded";
}

/// <summary>
/// Converts a PEFT LoRA adapter into ONNX Runtime's <c>.onnx_adapter</c> for a base folder with LoRA inputs: each
/// lora_A.weight [r, in] becomes Aᵀ [in, r] and each lora_B.weight [out, r] becomes scale·Bᵀ [r, out], named as the
/// base graph's inputs, so onnxruntime-genai (<c>Adapters.LoadAdapter</c> + <c>SetActiveAdapter</c>) and LlmKit
/// (<c>OnnxGenAIModel.LoadAdapter</c>) compute y = x·W + scale·(x·Aᵀ)·Bᵀ = x·(W + scale·B·A)ᵀ. Tensors are applied in the
/// base folder's own layout: for a Hugging Face base (<c>llmkit convert hf --lora</c>) the checkpoint's rows, so
/// PEFT adapters of that checkpoint apply unchanged; for a llama2.c-derived base, q/k output rows in llama2.c's
/// adjacent-pair RoPE order. The base's order is read from its model metadata and reported in the summary.
/// Stateless and thread-safe.
/// </summary>
public static partial class LoraAdapterConverter
{
    /// <summary>The PEFT configuration file.</summary>
    public const string ConfigFileName = "adapter_config.json";

    /// <summary>The PEFT weights file.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>Converts an adapter.</summary>
    /// <param name="request">Base folder, PEFT folder, output file.</param>
    /// <exception cref="FileNotFoundException">A PEFT file or the base folder's genai_config.json / model is missing (the message names it).</exception>
    /// <exception cref="InvalidDataException">The PEFT config or weights are malformed, name a module or layer the base lacks, have shapes that do not match it, or the base graph has no LoRA inputs.</exception>
    public static LoraAdapterConversionSummary Convert(LoraAdapterConversionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.BaseFolder, nameof(request.BaseFolder));
        ArgumentException.ThrowIfNullOrWhiteSpace(request.PeftFolder, nameof(request.PeftFolder));
        ArgumentException.ThrowIfNullOrWhiteSpace(request.OutputPath, nameof(request.OutputPath));

        var (rank, scale, targets) = ReadConfig(Path.Combine(request.PeftFolder, ConfigFileName));
        var (inputs, rowOrder) = BaseInputs(request.BaseFolder);
        string weightsPath = Path.Combine(request.PeftFolder, WeightsFileName);
        if (!File.Exists(weightsPath))
        {
            throw new FileNotFoundException($"The PEFT folder has no '{WeightsFileName}' ('{weightsPath}').", weightsPath);
        }

        var file = SafetensorsFile.Open(weightsPath);
        var pairs = new SortedDictionary<(int Layer, int Module), (string? A, string? B)>();
        foreach (string name in file.Tensors.Keys)
        {
            var match = PeftTensorName().Match(name);
            if (!match.Success)
            {
                throw new InvalidDataException(
                    $"'{weightsPath}': tensor '{name}' is not a LoRA A/B weight of a decoder projection (base_model.model.model.layers.N.(self_attn|mlp).X_proj.lora_A|lora_B.weight); embeddings, biases and other layers are not supported.");
            }

            int layer = int.Parse(match.Groups["layer"].Value, CultureInfo.InvariantCulture);
            int module = Array.FindIndex(LoraModule.All, m => m.PeftName == match.Groups["module"].Value);
            if (!targets.Contains(LoraModule.All[module].ShortName))
            {
                throw new InvalidDataException($"'{weightsPath}': tensor '{name}' adapts {LoraModule.All[module].ShortName}, which {ConfigFileName}'s target_modules does not list.");
            }

            var pair = pairs.GetValueOrDefault((layer, module));
            pairs[(layer, module)] = match.Groups["ab"].Value == "A" ? (name, pair.B) : (pair.A, name);
        }

        var parameters = new List<AdapterParameter>();
        foreach (var ((layer, moduleIndex), (a, b)) in pairs)
        {
            var module = LoraModule.All[moduleIndex];
            if (a is null || b is null)
            {
                throw new InvalidDataException($"'{weightsPath}': layer {layer} {module.PeftName} has only lora_{(a is null ? "B" : "A")}; both A and B are needed.");
            }

            string inputA = module.InputA(layer), inputB = module.InputB(layer);
            if (!inputs.TryGetValue(inputA, out int inFeatures) || !inputs.TryGetValue(inputB, out int outFeatures))
            {
                throw new InvalidDataException(
                    $"The base folder '{request.BaseFolder}' has no LoRA input '{inputA}' for layer {layer} {module.PeftName}: convert it with LoRA inputs (--lora) and check the adapter belongs to this model.");
            }

            long[] shapeA = file.Tensors[a].Shape, shapeB = file.Tensors[b].Shape;
            if (shapeA.Length != 2 || shapeB.Length != 2 || shapeA[0] != rank || shapeB[1] != rank || shapeA[1] != inFeatures || shapeB[0] != outFeatures)
            {
                throw new InvalidDataException(
                    $"'{weightsPath}': layer {layer} {module.PeftName}: lora_A [{string.Join(", ", shapeA)}] and lora_B [{string.Join(", ", shapeB)}] do not match r = {rank} and the base projection [{outFeatures}, {inFeatures}].");
            }

            float[] valuesA = ReadFloat32(file.Tensors[a]), valuesB = ReadFloat32(file.Tensors[b]);
            var transposedA = new float[valuesA.Length];
            Onnx.WeightTransforms.Transpose(valuesA, rank, inFeatures, transposedA);
            var scaledB = new float[valuesB.Length];
            Onnx.WeightTransforms.Transpose(valuesB, outFeatures, rank, scaledB);
            for (int i = 0; i < scaledB.Length; i++)
            {
                scaledB[i] = (float)(scaledB[i] * scale);
            }

            parameters.Add(new AdapterParameter(inputA, [inFeatures, rank], transposedA));
            parameters.Add(new AdapterParameter(inputB, [rank, outFeatures], scaledB));
        }

        if (parameters.Count == 0)
        {
            throw new InvalidDataException($"'{weightsPath}' holds no LoRA weights.");
        }

        string? directory = Path.GetDirectoryName(Path.GetFullPath(request.OutputPath));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        OnnxAdapterWriter.Write(request.OutputPath, parameters);
        return new LoraAdapterConversionSummary(Path.GetFullPath(request.OutputPath), rank, scale, pairs.Count, parameters.Count) { BaseRowOrder = rowOrder };
    }

    // The reader checked offsets and byte lengths against the file, so the element count is bounded by its size.
    private static float[] ReadFloat32(SafetensorsTensor tensor)
    {
        var values = new float[checked((int)tensor.ElementCount)];
        SafetensorsFile.ReadFloat32(tensor, values);
        return values;
    }

    private static (int Rank, double Scale, HashSet<string> Targets) ReadConfig(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The PEFT folder has no '{ConfigFileName}' ('{path}').", path);
        }

        try
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = json.RootElement;
            if (root.TryGetProperty("peft_type", out var type) && type.GetString() is { } peftType && peftType != "LORA")
            {
                throw new InvalidDataException($"'{path}': peft_type is {peftType}; only LORA adapters convert.");
            }

            int rank = root.GetProperty("r").GetInt32();
            double alpha = root.TryGetProperty("lora_alpha", out var a) ? a.GetDouble() : rank;
            if (rank <= 0 || rank > 65536 || !double.IsFinite(alpha))
            {
                throw new InvalidDataException($"'{path}': r must be in [1, 65536] and lora_alpha finite (r {rank}, lora_alpha {alpha}).");
            }

            foreach (string unsupported in (string[])["rank_pattern", "alpha_pattern"])
            {
                if (root.TryGetProperty(unsupported, out var pattern) && pattern.ValueKind == JsonValueKind.Object && pattern.EnumerateObject().Any())
                {
                    throw new InvalidDataException($"'{path}': {unsupported} (per-module ranks or alphas) is not supported.");
                }
            }

            if (root.TryGetProperty("fan_in_fan_out", out var fanInFanOut) && fanInFanOut.ValueKind == JsonValueKind.True)
            {
                throw new InvalidDataException($"'{path}': fan_in_fan_out = true (Conv1D layers) is not supported.");
            }

            bool rsLora = root.TryGetProperty("use_rslora", out var rs) && rs.ValueKind == JsonValueKind.True;
            double scale = rsLora ? alpha / Math.Sqrt(rank) : alpha / rank;

            var targetsElement = root.GetProperty("target_modules");
            if (targetsElement.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"'{path}': target_modules must be a list of module names (a regular expression is not supported).");
            }

            var targets = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in targetsElement.EnumerateArray())
            {
                string name = item.GetString() ?? "";
                if (LoraModule.ByShortName(name) is null)
                {
                    throw new InvalidDataException($"'{path}': target module '{name}' is not one of {string.Join(", ", LoraModule.All.Select(m => m.ShortName))}.");
                }

                targets.Add(name);
            }

            return (rank, scale, targets);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"'{path}': not a PEFT LoRA config (needs r, lora_alpha, target_modules): {e.Message}", e);
        }
    }

    /// <summary>The base graph's LoRA inputs with their fixed dimension (in_features for A, out_features for B), and its recorded row order.</summary>
    private static (Dictionary<string, int> Inputs, string RowOrder) BaseInputs(string folder)
    {
        string configPath = Path.Combine(folder, "genai_config.json");
        if (!File.Exists(configPath))
        {
            throw new FileNotFoundException($"The base folder has no genai_config.json ('{configPath}').", configPath);
        }

        string fileName;
        using (var json = JsonDocument.Parse(File.ReadAllBytes(configPath)))
        {
            fileName = json.RootElement.GetProperty("model").GetProperty("decoder").GetProperty("filename").GetString() ?? Llama2cConverter.ModelFileName;
        }

        string modelPath = Path.Combine(folder, fileName);
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"The base folder's decoder '{modelPath}' does not exist.", modelPath);
        }

        // Parse only the graph's inputs: weights may be megabytes, but the model file of a large model keeps them external.
        ModelProto model;
        using (var stream = File.OpenRead(modelPath))
        {
            model = ModelProto.Parser.ParseFrom(stream);
        }

        var inputs = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var input in model.Graph.Input)
        {
            if (!input.Name.Contains(".lora_", StringComparison.Ordinal))
            {
                continue;
            }

            var dims = input.Type.TensorType.Shape.Dim;
            bool isA = input.Name.Contains(".lora_A.", StringComparison.Ordinal);
            var fixedDim = dims[isA ? 0 : 1];
            inputs[input.Name] = checked((int)fixedDim.DimValue);
        }

        if (inputs.Count == 0)
        {
            throw new InvalidDataException($"The base model '{modelPath}' has no LoRA inputs: convert it with LoRA inputs (llmkit convert llama2c --lora or llmkit convert hf --lora, or LoraInputs = true).");
        }

        string rowOrder = model.MetadataProps.FirstOrDefault(p => p.Key == LoraGraphInputs.RowOrderMetadataKey)?.Value ?? LoraAdapterConversionSummary.UnrecordedRowOrder;
        return (inputs, rowOrder);
    }

    [GeneratedRegex(@"^base_model\.model\.model\.layers\.(?<layer>\d{1,6})\.(?<module>self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_(?<ab>[AB])(?:\.[A-Za-z0-9_-]+)?\.weight$")]
    private static partial Regex PeftTensorName();
}
