using System.CommandLine;
using System.Globalization;

namespace LlmKit.ModelBuilder.Cli;

/// <summary>The <c>llmkit</c> command tree. Output goes to the given writers so tests can run it in-process.</summary>
internal static class CommandLineApp
{
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("llmkit: build ONNX GenAI model folders for LlmKit.");
        root.Add(ConvertCommand(output, error));
        root.Add(SynthCommand(output, error));
        root.Add(AdapterCommand(output, error));
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
            {
                error.WriteLine($"llmkit: {e.Message}");
            }

            return 2;
        }

        return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
    }

    private static Command ConvertCommand(TextWriter output, TextWriter error)
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "llama2.c checkpoint (.bin)", Required = true };
        var tokenizer = new Option<string>("--tokenizer") { Description = "llama2.c tokenizer (tok512.bin style)", Required = true };
        var outputDir = new Option<string>("--output") { Description = "model folder to create", Required = true };
        var force = new Option<bool>("--force") { Description = "replace an output folder llmkit wrote (marked by .llmkit-output)" };
        var graph = new Option<string>("--graph")
        {
            Description = "decoder graph form: ortgenai (the official onnxruntime-genai builder's form; head size a multiple of 8) or standard (plain ONNX ops, any head size)",
            DefaultValueFactory = _ => "ortgenai",
        };
        graph.AcceptOnlyFromAmong("ortgenai", "standard");
        var maxLength = new Option<int?>("--max-length") { Description = "context length (default: the checkpoint's seq_len)" };
        var precision = new Option<string>("--precision") { Description = "projection weights (int4 needs the ortgenai graph)", DefaultValueFactory = _ => "fp32" };
        precision.AcceptOnlyFromAmong("fp32", "int4");
        var zeroPoints = new Option<bool>("--int4-zero-points") { Description = "asymmetric int4 with a zero point per block" };
        var accuracyLevel = new Option<int>("--int4-accuracy-level")
        {
            Description = "MatMulNBits accuracy_level: 4 = int8 activations, as the official builder does for CPU (faster, ~1% logit error); 0 = exact fp32 activations",
            DefaultValueFactory = _ => Llama2cConversionRequest.DefaultInt4AccuracyLevel,
        };
        accuracyLevel.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > 4)
            {
                result.AddError("--int4-accuracy-level must be 0, 1, 2, 3 or 4.");
            }
        });

        var ropeScaling = new Option<string?>("--rope-scaling")
        {
            Description = "RoPE scaling TYPE:FACTOR for a context beyond the checkpoint's seq_len: linear:4, llama3:8, yarn:4 or dynamic:2 (the context then defaults to seq_len x FACTOR; dynamic runs in LlmKit only, not in onnxruntime-genai 0.20.0)",
        };
        ropeScaling.Validators.Add(result =>
        {
            try
            {
                RopeScaling.Parse(result.GetValueOrDefault<string?>() ?? "");
            }
            catch (FormatException e)
            {
                result.AddError($"--rope-scaling: {e.Message}");
            }
        });

        var lora = new Option<bool>("--lora")
        {
            Description = "give every projection LoRA inputs (rank 0 by default, so the base model is unchanged) for adapters made with `llmkit adapter` (ortgenai graph only)",
        };

        var llama2c = new Command("llama2c", "Convert a llama2.c checkpoint and tokenizer into an ONNX GenAI folder.")
        {
            checkpoint, tokenizer, outputDir, force, graph, maxLength, precision, zeroPoints, accuracyLevel, ropeScaling, lora,
        };
        llama2c.SetAction(parse => Guarded(error, () =>
        {
            var form = parse.GetValue(graph) == "ortgenai" ? OnnxGraphForm.OrtGenAI : OnnxGraphForm.Standard;
            var summary = Llama2cConverter.Convert(new Llama2cConversionRequest(
                parse.GetValue(checkpoint)!, parse.GetValue(tokenizer)!, parse.GetValue(outputDir)!, parse.GetValue(force), form, parse.GetValue(maxLength))
            {
                Precision = parse.GetValue(precision) == "int4" ? WeightPrecision.Int4 : WeightPrecision.Fp32,
                Int4ZeroPoints = parse.GetValue(zeroPoints),
                Int4AccuracyLevel = parse.GetValue(accuracyLevel),
                RopeScaling = parse.GetValue(ropeScaling) is { } spec ? RopeScaling.Parse(spec) : null,
                LoraInputs = parse.GetValue(lora),
            });
            PrintSummary(output, summary);
        }));

        return new Command("convert", "Convert a checkpoint into an ONNX GenAI model folder.") { llama2c, HfCommand(output, error) };
    }

    private static Command HfCommand(TextWriter output, TextWriter error)
    {
        var input = new Option<string>("--input") { Description = "Hugging Face checkpoint folder: config.json, *.safetensors (or shards + model.safetensors.index.json), tokenizer.json", Required = true };
        var outputDir = new Option<string>("--output") { Description = "model folder to create", Required = true };
        var force = new Option<bool>("--force") { Description = "replace an output folder llmkit wrote (marked by .llmkit-output)" };
        var graph = new Option<string>("--graph") { Description = "decoder graph form: ortgenai (the official onnxruntime-genai builder's CPU form)", DefaultValueFactory = _ => "ortgenai" };
        graph.AcceptOnlyFromAmong("ortgenai");
        var precision = new Option<string>("--precision") { Description = "fp32, fp16 (the whole graph in float16) or int4 (MatMulNBits projections, blocks of 32)", DefaultValueFactory = _ => "fp32" };
        precision.AcceptOnlyFromAmong("fp32", "fp16", "int4");
        var maxLength = new Option<int?>("--max-length") { Description = "context length (default: max_position_embeddings)" };
        var accuracyLevel = new Option<int>("--int4-accuracy-level")
        {
            Description = "MatMulNBits accuracy_level: 4 = int8 activations (the official CPU default); 0 = exact fp32 activations",
            DefaultValueFactory = _ => Llama2cConversionRequest.DefaultInt4AccuracyLevel,
        };
        accuracyLevel.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > 4)
            {
                result.AddError("--int4-accuracy-level must be 0, 1, 2, 3 or 4.");
            }
        });

        var lora = new Option<bool>("--lora")
        {
            Description = "give q/k/v/o/gate/up/down LoRA inputs (rank 0 by default, so the base model is unchanged) for PEFT adapters of this checkpoint made with `llmkit adapter` (not Phi3, not fp16)",
        };
        var hf = new Command("hf", $"Convert a Hugging Face checkpoint ({string.Join(", ", HfConverter.SupportedArchitectures)}) into an official ONNX GenAI folder.")
        {
            input, outputDir, force, graph, precision, maxLength, accuracyLevel, lora,
        };
        hf.SetAction(parse => Guarded(error, () =>
        {
            var request = new HfConversionRequest(parse.GetValue(input)!, parse.GetValue(outputDir)!)
            {
                Force = parse.GetValue(force),
                MaxLength = parse.GetValue(maxLength),
                Precision = parse.GetValue(precision) switch { "int4" => WeightPrecision.Int4, "fp16" => WeightPrecision.Fp16, _ => WeightPrecision.Fp32 },
                Int4AccuracyLevel = parse.GetValue(accuracyLevel),
                LoraInputs = parse.GetValue(lora),
            };
            var summary = ConversionProgressDisplay.Run(output, progress => HfConverter.Convert(request with { Progress = progress }));
            string window = summary.SlidingWindow is { } w ? $", sliding window {w}" : "";
            output.WriteLine($"Converted {summary.Architecture} to {summary.OutputDirectory} (model.type {summary.ModelType}, {summary.Precision}{window}) in {summary.Elapsed.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)} s");
            output.WriteLine($"  parameters: {summary.ParameterCount:N0}, context {summary.ContextLength}");
            foreach (var f in summary.Files)
            {
                output.WriteLine($"  {f.Name,-24} {Size(f.Bytes),12}");
            }

            output.WriteLine($"  {"total",-24} {Size(summary.TotalBytes),12}");
        }));
        return hf;
    }

    private static Command SynthCommand(TextWriter output, TextWriter error)
    {
        Option<int> Int(string name, string description) => new(name) { Description = description, Required = true };
        var dim = Int("--dim", "model width");
        var hidden = Int("--hidden", "feed-forward width");
        var layers = Int("--layers", "number of layers");
        var heads = Int("--heads", "query heads");
        var kvHeads = Int("--kv-heads", "key/value heads");
        var vocab = Int("--vocab", "vocabulary size");
        var seqLen = Int("--seq-len", "maximum sequence length");
        var seed = new Option<int>("--seed") { Description = "random seed", DefaultValueFactory = _ => 0 };
        var untied = new Option<bool>("--untied") { Description = "separate classifier instead of the tied embedding" };
        var outputFile = new Option<string>("--output") { Description = "checkpoint file to write", Required = true };
        var tokenizerFile = new Option<string?>("--tokenizer-output") { Description = "also write a matching tokenizer (vocab >= 259)" };

        var llama2c = new Command("llama2c", "Write a seeded random llama2.c checkpoint.")
        {
            dim, hidden, layers, heads, kvHeads, vocab, seqLen, seed, untied, outputFile, tokenizerFile,
        };
        llama2c.SetAction(parse => Guarded(error, () =>
        {
            var config = new LlamaConfig(parse.GetValue(dim), parse.GetValue(hidden), parse.GetValue(layers), parse.GetValue(heads),
                parse.GetValue(kvHeads), parse.GetValue(vocab), parse.GetValue(seqLen), SharedClassifier: !parse.GetValue(untied));
            string path = parse.GetValue(outputFile)!;
            CheckpointSynthesizer.Write(path, config, parse.GetValue(seed));
            output.WriteLine($"wrote {path} ({Size(new FileInfo(path).Length)}, {config.ParameterCount:N0} parameters)");
            if (parse.GetValue(tokenizerFile) is { } tokenizerPath)
            {
                CheckpointSynthesizer.WriteTokenizer(tokenizerPath, config.VocabSize);
                output.WriteLine($"wrote {tokenizerPath} ({Size(new FileInfo(tokenizerPath).Length)})");
            }
        }));

        return new Command("synth", "Synthesise a random checkpoint for tests and benchmarks.") { llama2c };
    }

    private static Command AdapterCommand(TextWriter output, TextWriter error)
    {
        var baseFolder = new Option<string>("--base") { Description = "model folder converted with --lora", Required = true };
        var peft = new Option<string>("--peft") { Description = "PEFT folder (adapter_config.json + adapter_model.safetensors)", Required = true };
        var outputFile = new Option<string>("--output") { Description = ".onnx_adapter file to write", Required = true };
        var command = new Command("adapter", "Convert a PEFT LoRA adapter into an ONNX Runtime .onnx_adapter file for a base folder.") { baseFolder, peft, outputFile };
        command.SetAction(parse => Guarded(error, () =>
        {
            var summary = LoraAdapterConverter.Convert(new LoraAdapterConversionRequest(parse.GetValue(baseFolder)!, parse.GetValue(peft)!, parse.GetValue(outputFile)!));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {summary.OutputPath} ({Size(new FileInfo(summary.OutputPath).Length)}): rank {summary.Rank}, scale {summary.Scale:0.######} folded into B, {summary.Modules} projections, {summary.Parameters} tensors, {summary.BaseRowOrder} row order"));
        }));
        return command;
    }

    // Expected failures become one line on stderr and exit code 1; anything else is a bug and propagates.
    private static int Guarded(TextWriter error, Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or NotSupportedException or UnauthorizedAccessException)
        {
            error.WriteLine($"llmkit: error: {e.Message}");
            return 1;
        }
    }

    private static void PrintSummary(TextWriter output, ConversionSummary s)
    {
        var c = s.Config;
        output.WriteLine($"Converted to {s.OutputDirectory} ({s.GraphForm} graph, {s.Precision}) in {s.Elapsed.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)} s");
        output.WriteLine($"  shape: dim {c.Dim}, hidden {c.HiddenDim}, layers {c.Layers}, heads {c.Heads}, kv_heads {c.KvHeads}, head_size {c.HeadSize}, vocab {c.VocabSize}, context {s.ContextLength}, classifier {(c.SharedClassifier ? "tied" : "untied")}");
        output.WriteLine($"  parameters: {s.ParameterCount:N0}");
        if (c.RopeScaling is { } rope)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  rope scaling: {rope.Type.ToString().ToLowerInvariant()} x{rope.Factor} (trained at {rope.OriginalMaxPositionEmbeddings}, context {s.ContextLength})"));
        }
        if (s.Precision == WeightPrecision.Int4)
        {
            string activations = s.Int4AccuracyLevel == 0 ? "exact fp32 activations" : $"accuracy_level {s.Int4AccuracyLevel}";
            output.WriteLine($"  int4: blocks of {Onnx.Int4Quantizer.BlockSize}, {(s.Int4ZeroPoints ? "zero points" : "symmetric")}, {activations}");
        }

        foreach (var f in s.Files)
        {
            output.WriteLine($"  {f.Name,-24} {Size(f.Bytes),12}");
        }

        output.WriteLine($"  {"total",-24} {Size(s.TotalBytes),12}");
    }

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.00} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.00} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 10):0.0} KiB"),
        _ => $"{bytes} B",
    };
}
