using static LlmKit.Benchmarks.BenchArguments;
using System.Diagnostics;
using System.Globalization;
using LLama;
using LLama.Common;
using LLama.Native;
using LlmKit.Generation;
using LlmKit.Models;
using Oga = Microsoft.ML.OnnxRuntimeGenAI;

namespace LlmKit.Benchmarks.Peers;

/// <summary>
/// One engine, one model, one measured run after a warm-up; prints "prefill-ms decode-tok/s". All engines are
/// measured the same way: prefill = the prompt's run plus the first token's choice; decode = the next N steps, each one
/// run plus one choice. min_length holds end of sequence back so every run decodes exactly N steps (llama.cpp: the
/// greedy choice skips the end-of-sequence id, which is what min_length does in the other two).
/// The prompt ids come from the ONNX folder's vocabulary size, so llama.cpp (given <c>--gguf</c>) sees the same ids.
/// With <c>--print-ids</c> the worker prints the greedy ids of one run instead of timings (the correctness check).
/// </summary>
internal sealed class PeersWorkerCommand : IBenchCommand
{
    public string Name => "peers-worker";

    public string Summary => "(child process of peers) --engine llmkit|ortgenai|llamacpp --folder DIR [--gguf FILE] --threads N --prompt-tokens P --decode-tokens D [--print-ids]";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string engine = Option(args, "--engine", "llmkit");
        string folder = Option(args, "--folder", "");
        int threads = int.Parse(Option(args, "--threads", "1"), CultureInfo.InvariantCulture);
        int promptTokens = int.Parse(Option(args, "--prompt-tokens", "64"), CultureInfo.InvariantCulture);
        int decodeTokens = int.Parse(Option(args, "--decode-tokens", "128"), CultureInfo.InvariantCulture);

        string gguf = Option(args, "--gguf", "");
        bool printIds = Array.IndexOf(args, "--print-ids") >= 0;

        var config = GenAIConfigReader.Read(Path.Combine(folder, GenAIConfigReader.FileName));
        var random = new Random(1234);
        int[] prompt = Enumerable.Range(0, promptTokens).Select(_ => random.Next(3, config.Model.VocabSize)).ToArray();
        if (printIds)
        {
            int[] ids = engine switch
            {
                "llamacpp" => LlamaCppIds(gguf, threads, prompt, decodeTokens + 1, Llama2cEos),
                "llmkit" => LlmKitIds(folder, threads, prompt, decodeTokens + 1),
                _ => throw new ArgumentException($"--print-ids supports llmkit and llamacpp, not '{engine}'"),
            };
            Console.WriteLine(string.Join(' ', ids));
            return Task.FromResult(0);
        }

        (double prefill, double decode) = engine switch
        {
            "ortgenai" => MeasureOfficial(folder, threads, prompt, decodeTokens),
            "llamacpp" => MeasureLlamaCpp(gguf, threads, prompt, decodeTokens, Llama2cEos),
            "llmkit" => MeasureLlmKit(folder, threads, prompt, decodeTokens),
            _ => throw new ArgumentException($"unknown engine '{engine}' (llmkit, ortgenai, llamacpp)"),
        };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{prefill * 1000:F3} {decodeTokens / decode:F3}"));
        return Task.FromResult(0);
    }

    private static (double Prefill, double Decode) MeasureLlmKit(string folder, int threads, int[] prompt, int steps)
    {
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads, ReusePromptPrefixes = false });
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = steps + 1, MinNewTokens = steps + 1 };
        Run();
        return Run();

        (double, double) Run()
        {
            using var generator = model.CreateGenerator(prompt, options);
            long start = Stopwatch.GetTimestamp();
            generator.GenerateNextToken();
            double prefill = Stopwatch.GetElapsedTime(start).TotalSeconds;
            start = Stopwatch.GetTimestamp();
            for (int i = 0; i < steps; i++)
            {
                generator.GenerateNextToken();
            }

            return (prefill, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    private static (double Prefill, double Decode) MeasureOfficial(string folder, int threads, int[] prompt, int steps)
    {
        using var config = new Oga.Config(folder);
        string overlay = "{\"model\":{\"decoder\":{\"session_options\":{\"intra_op_num_threads\":" + threads.ToString(CultureInfo.InvariantCulture) + "}}}}";
        config.Overlay(overlay);
        using var model = new Oga.Model(config);
        Run();
        return Run();

        (double, double) Run()
        {
            using var parameters = new Oga.GeneratorParams(model);
            int length = prompt.Length + steps + 1;
            parameters.SetSearchOption("max_length", length);
            parameters.SetSearchOption("min_length", length);
            parameters.SetSearchOption("do_sample", false);
            using var generator = new Oga.Generator(model, parameters);
            long start = Stopwatch.GetTimestamp();
            generator.AppendTokens(prompt);   // the prompt's run
            generator.GenerateNextToken();    // picks the first token from the prompt's logits
            double prefill = Stopwatch.GetElapsedTime(start).TotalSeconds;
            start = Stopwatch.GetTimestamp();
            for (int i = 0; i < steps; i++)
            {
                generator.GenerateNextToken(); // one run on the last token, then one choice
            }

            return (prefill, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    /// <summary>The end-of-sequence id of every model here (llama2.c's tokenizer layout).</summary>
    private const int Llama2cEos = 2;

    private static int[] LlmKitIds(string folder, int threads, int[] prompt, int count)
    {
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = threads, ReusePromptPrefixes = false });
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = count, MinNewTokens = count };
        using var generator = model.CreateGenerator(prompt, options);
        var ids = new int[count];
        for (int i = 0; i < count; i++)
        {
            ids[i] = generator.GenerateNextToken();
        }

        return ids;
    }

    /// <summary>
    /// llama.cpp through LLamaSharp's low-level API: one context, one batch, <c>llama_decode</c> per step and an argmax
    /// over the logits row (no sampler chain). f32 K and V caches and flash attention off, like the fp32 attention of the
    /// ONNX graphs (LLamaSharp's defaults are an f16 cache and flash attention on).
    /// </summary>
    private sealed class LlamaCppRunner : IDisposable
    {
        private readonly LLamaWeights _weights;
        private readonly LLamaContext _context;
        private readonly LLamaBatch _batch = new();
        private readonly int _eos;

        public LlamaCppRunner(string gguf, int threads, int contextSize, int eos)
        {
            if (!File.Exists(gguf))
            {
                throw new FileNotFoundException($"--gguf '{gguf}' does not exist.", gguf);
            }

            NativeLogConfig.llama_log_set((_, _) => { }); // keep llama.cpp's load log off stdout/stderr
            var parameters = new ModelParams(gguf)
            {
                ContextSize = (uint)contextSize,
                BatchSize = (uint)contextSize,
                UBatchSize = (uint)contextSize,
                Threads = threads,
                BatchThreads = threads,
                GpuLayerCount = 0,
                TypeK = GGMLType.GGML_TYPE_F32,
                TypeV = GGMLType.GGML_TYPE_F32,
                FlashAttention = false,
            };
            _weights = LLamaWeights.LoadFromFile(parameters);
            _context = _weights.CreateContext(parameters);
            _eos = eos;
        }

        /// <summary>How many choices end of sequence would have won (it is skipped, as min_length does in the other engines).</summary>
        public int EosWins { get; private set; }

        public void Reset() => _context.NativeHandle.MemoryClear(true);

        public int Prefill(int[] prompt)
        {
            _batch.Clear();
            for (int i = 0; i < prompt.Length; i++)
            {
                _batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
            }

            Decode();
            return Argmax(_context.NativeHandle.GetLogitsIth(_batch.TokenCount - 1));
        }

        public int Step(int token, int position)
        {
            _batch.Clear();
            _batch.Add(token, position, LLamaSeqId.Zero, true);
            Decode();
            return Argmax(_context.NativeHandle.GetLogitsIth(0));
        }

        public void Dispose()
        {
            _context.Dispose();
            _weights.Dispose();
        }

        private void Decode()
        {
            var result = _context.NativeHandle.Decode(_batch);
            if (result != DecodeResult.Ok)
            {
                throw new InvalidOperationException($"llama_decode failed: {result}");
            }
        }

        private int Argmax(Span<float> logits)
        {
            int best = -1;
            float bestValue = float.NegativeInfinity;
            for (int i = 0; i < logits.Length; i++)
            {
                if (logits[i] > bestValue && i != _eos)
                {
                    best = i;
                    bestValue = logits[i];
                }
            }

            if (logits[_eos] > bestValue)
            {
                EosWins++;
            }

            return best;
        }
    }

    private static int[] LlamaCppIds(string gguf, int threads, int[] prompt, int count, int eos)
    {
        using var runner = new LlamaCppRunner(gguf, threads, prompt.Length + count + 8, eos);
        var ids = new int[count];
        ids[0] = runner.Prefill(prompt);
        for (int i = 1; i < count; i++)
        {
            ids[i] = runner.Step(ids[i - 1], prompt.Length + i - 1);
        }

        return ids;
    }

    private static (double Prefill, double Decode) MeasureLlamaCpp(string gguf, int threads, int[] prompt, int steps, int eos)
    {
        using var runner = new LlamaCppRunner(gguf, threads, prompt.Length + steps + 8, eos);
        Run();
        var measured = Run();
        if (runner.EosWins > 0)
        {
            Console.Error.WriteLine($"llamacpp: end of sequence was the top logit {runner.EosWins} times (skipped, as min_length does)");
        }

        return measured;

        (double, double) Run()
        {
            runner.Reset();
            long start = Stopwatch.GetTimestamp();
            int token = runner.Prefill(prompt);
            double prefill = Stopwatch.GetElapsedTime(start).TotalSeconds;
            start = Stopwatch.GetTimestamp();
            for (int i = 0; i < steps; i++)
            {
                token = runner.Step(token, prompt.Length + i);
            }

            return (prefill, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }
}
