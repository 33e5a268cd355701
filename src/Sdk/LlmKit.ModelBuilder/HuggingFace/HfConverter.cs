using System.Diagnostics;
using System.Reflection;
using Google.Protobuf;
using LlmKit.ModelBuilder.HuggingFace;
using LlmKit.ModelBuilder.Lora;
using LlmKit.ModelBuilder.Onnx;
using LlmKit.ModelBuilder.Onnx.Protos;

namespace LlmKit.ModelBuilder;

/// <summary>
/// Converts a Hugging Face checkpoint folder (config.json + safetensors in F32/F16/BF16, single or sharded) of a
/// supported architecture (<see cref="SupportedArchitectures"/>) into the official onnxruntime-genai folder form:
/// model.onnx (+ model.onnx.data when large), genai_config.json, the tokenizer files copied, and the
/// <c>.llmkit-output</c> marker. Tensors are read and written one at a time, so peak memory stays near the largest
/// tensor (plus the model being written when it is kept inline). The folder is staged beside the destination and
/// renamed into place, as <see cref="Llama2cConverter"/> does. Stateless and thread-safe (distinct outputs).
/// </summary>
public static class HfConverter
{
    /// <summary>The tokenizer files copied when present; tokenizer.json is required (onnxruntime-genai reads it).</summary>
    public static readonly IReadOnlyList<string> TokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model"];

    /// <summary>Largest context length converted (the cos/sin tables grow with it; Llama 3.1 and Phi-3 use 131,072).</summary>
    public const int MaxContextLength = 1 << 20;

    /// <summary>The config.json architectures the converter accepts.</summary>
    public static IReadOnlyCollection<string> SupportedArchitectures => HfConfigReader.SupportedArchitectures.Keys.ToArray();

    /// <summary>Runs a conversion.</summary>
    /// <param name="request">What to convert and where.</param>
    /// <param name="cancellationToken">Cancels between layers; the output folder is then left untouched.</param>
    /// <returns>The files written and the model's description.</returns>
    /// <exception cref="ArgumentException">A path is empty, or MaxLength, Precision, Int4AccuracyLevel or ExternalDataThresholdBytes is out of range (the message names it).</exception>
    /// <exception cref="FileNotFoundException">config.json, the safetensors files or tokenizer.json are missing.</exception>
    /// <exception cref="InvalidDataException">A file is malformed or truncated, or a tensor is missing or has the wrong shape.</exception>
    /// <exception cref="NotSupportedException">The architecture, a dtype or a config field is not supported, dynamic rope_scaling is asked for with fp16, or LoraInputs with fp16 or a fused-projection architecture (Phi3).</exception>
    /// <exception cref="IOException">The output folder may not be written (see <see cref="Llama2cConverter"/> for the rules).</exception>
    public static HfConversionSummary Convert(HfConversionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.InputDirectory, nameof(request.InputDirectory));
        ArgumentException.ThrowIfNullOrWhiteSpace(request.OutputDirectory, nameof(request.OutputDirectory));
        if (request.MaxLength is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(request), request.MaxLength, "MaxLength must be a positive number of tokens (or null for max_position_embeddings).");
        }

        if (!Enum.IsDefined(request.Precision))
        {
            throw new ArgumentOutOfRangeException(nameof(request), request.Precision, "Precision must be Fp32, Fp16 or Int4.");
        }

        if (request.Int4AccuracyLevel is < 0 or > 4)
        {
            throw new ArgumentOutOfRangeException(nameof(request), request.Int4AccuracyLevel, "Int4AccuracyLevel must be in [0, 4].");
        }

        if (request.ExternalDataThresholdBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(request), request.ExternalDataThresholdBytes, "ExternalDataThresholdBytes must be >= 0.");
        }

        var stopwatch = Stopwatch.StartNew();
        string input = Path.GetFullPath(request.InputDirectory);
        if (!Directory.Exists(input))
        {
            throw new DirectoryNotFoundException($"Input folder '{input}' does not exist.");
        }

        var spec = HfConfigReader.Read(input);
        if (spec.EosTokenIds.Length == 0)
        {
            throw new InvalidDataException($"'{Path.Combine(input, HfConfigReader.ConfigFileName)}': eos_token_id is missing (in config.json and generation_config.json); genai_config.json needs it.");
        }

        if (spec.HeadDim % 8 != 0)
        {
            throw new NotSupportedException($"head_dim {spec.HeadDim} is not a multiple of 8, which GroupQueryAttention needs on CPU.");
        }

        if (spec.RopeScaling?.Type == RopeScalingType.Dynamic && request.Precision == WeightPrecision.Fp16)
        {
            throw new NotSupportedException("rope_scaling type 'dynamic' with Precision Fp16 (--precision fp16) is not supported: the LlmKit runtime fills float32 cos/sin inputs, which an fp16 graph cannot take. Use fp32 or int4.");
        }

        if (request.LoraInputs && spec.FusedProjections)
        {
            throw new NotSupportedException(
                $"LoraInputs (--lora) is not supported for {spec.Architecture}: its checkpoint fuses qkv_proj and gate_up_proj, and PEFT adapters of it target those fused modules, which the LoRA inputs (q/k/v/o/gate/up/down) do not cover.");
        }

        if (request.LoraInputs && request.Precision == WeightPrecision.Fp16)
        {
            throw new NotSupportedException("LoraInputs (--lora) with Precision Fp16 (--precision fp16) is not supported: adapter tensors are float32 and an fp16 graph cannot take them. Use fp32 or int4.");
        }

        string tokenizerJson = Path.Combine(input, "tokenizer.json");
        if (!File.Exists(tokenizerJson))
        {
            throw new FileNotFoundException($"'{input}' has no tokenizer.json; onnxruntime-genai reads the tokenizer from it.", tokenizerJson);
        }

        request.Progress?.Report(new HfConversionProgress("read", 0, 1));
        var checkpoint = SafetensorsCheckpoint.Open(input);
        request.Progress?.Report(new HfConversionProgress("read", 1, 1));
        int contextLength = request.MaxLength ?? spec.MaxPositions;
        if (contextLength > MaxContextLength)
        {
            throw new NotSupportedException(
                $"Context length {contextLength:N0} ({(request.MaxLength is null ? "max_position_embeddings in config.json" : "MaxLength / --max-length")}) is above {MaxContextLength:N0}; the RoPE tables are [context, head_dim / 2]. Pass a smaller --max-length.");
        }

        string output = OutputFolder.Normalize(request.OutputDirectory);
        string[] inputs = [Path.Combine(input, HfConfigReader.ConfigFileName), tokenizerJson, .. checkpoint.Files.Select(f => f.Path)];
        OutputFolder.CheckDestination(output, inputs, request.Force);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        string staging = OutputFolder.SiblingName(output, "tmp");
        Directory.CreateDirectory(staging);
        try
        {
            WriteModel(staging, new HfWeights(checkpoint, spec, reuseBuffer: true), contextLength, request, cancellationToken);
            GenAiConfigWriter.Write(Path.Combine(staging, "genai_config.json"), GenAiDecoderFields.From(spec),
                new GenAiConfigOptions(contextLength, HfGraphEmitter.UsesPositionIds(spec), HfGraphEmitter.SharesKvBuffers(spec), Llama2cConverter.ModelFileName));
            foreach (string file in TokenizerFiles)
            {
                string source = Path.Combine(input, file);
                if (File.Exists(source))
                {
                    File.Copy(source, Path.Combine(staging, file));
                }
            }

            OutputFolder.WriteMarker(staging, OnnxGraphForm.OrtGenAI, request.Precision);
            cancellationToken.ThrowIfCancellationRequested();
            OutputFolder.Publish(staging, output, inputs, request.Force);
        }
        catch
        {
            TryDelete(staging);
            throw;
        }

        var files = new DirectoryInfo(output).GetFiles().OrderBy(f => f.Name, StringComparer.Ordinal).Select(f => new WrittenFile(f.Name, f.Length)).ToList();
        return new HfConversionSummary(output, files, spec.Architecture, spec.ModelType, spec.ParameterCount, contextLength, request.Precision,
            spec.SlidingWindow, stopwatch.Elapsed);
    }

    private static void WriteModel(string folder, HfWeights weights, int contextLength, HfConversionRequest request, CancellationToken cancellationToken)
    {
        var spec = weights.Spec;
        long weightBytes = sizeof(float) * (spec.ParameterCount + (spec.TiedEmbeddings ? (long)spec.VocabSize * spec.Hidden : 0) + ((long)contextLength * spec.HeadDim));
        using var store = weightBytes > request.ExternalDataThresholdBytes
            ? new TensorStore(Path.Combine(folder, Llama2cConverter.ExternalDataFileName))
            : new TensorStore();
        var graph = new GraphBuilder("main_graph");
        var progress = request.Progress;
        var emitter = new HfGraphEmitter(graph, store, weights, contextLength, request.Precision, request.Int4AccuracyLevel)
        {
            Progress = progress is null ? null : (done, total) => progress.Report(new HfConversionProgress("convert", done, total)),
        };
        (request.LoraInputs ? emitter.WithLoraInputs() : emitter).Emit(cancellationToken);

        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "LlmKit.ModelBuilder",
            ProducerVersion = typeof(HfConverter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0",
            Graph = graph.Graph,
        };
        RopeCacheSwitch.AddMetadata(model, spec.RopeScaling, contextLength);
        DynamicRopeInputs.AddMetadata(model, spec.RopeScaling, spec.RopeTheta, spec.MaxPositions);
        if (request.LoraInputs)
        {
            LoraGraphInputs.AddMetadata(model, LoraGraphInputs.HuggingFaceRowOrder);
        }
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Llama2cConverter.OnnxOpset });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        cancellationToken.ThrowIfCancellationRequested();
        progress?.Report(new HfConversionProgress("write", 0, 1));
        using (var stream = new FileStream(Path.Combine(folder, Llama2cConverter.ModelFileName), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            model.WriteTo(stream);
        }

        progress?.Report(new HfConversionProgress("write", 1, 1));
    }

    // The staging folder is this conversion's own: deleting it removes only what it wrote.
    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
